# sotto - the two commands a newcomer needs are `make demo` and `make test`.
#   make deps       install the Debian packages sotto needs (apt-get; skips what is present)
#   make            build (Release) into build/
#   make test       deps + build + the whole test suite, then again under ASan+UBSan,
#                   then a short libFuzzer run of every parser (FAST=1 skips both)
#   make test-asan  only the sanitizer pass (build-asan/)
#   make test-neon  the NEON kernels cross-built for aarch64 and run under qemu-aarch64
#   make demo       deps + build, synthesize speech with flite and transcribe it
#   make bench      print throughput, real-time factor and peak memory figures
#   make bench-stream  live transcription over /v1/listen: word latency, WER, 20 streams
#   make bench-whisper-streams  concurrent Whisper align_att streams: serialized vs batched steps
#   make fuzz       short libFuzzer runs of every parser (clang)
#   make lint       banned functions, clang-format check
#   make install    install binary, library, headers and pkg-config file (PREFIX=/usr/local)
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure -j $(JOBS)
FUZZ_SECONDS ?= 15

.PHONY: all build deps test test-fast test-asan test-neon demo bench bench-stream bench-vad-savings bench-whisper-streams fuzz lint install clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: deps
	$(MAKE) build
	$(MAKE) lint
	cd $(BUILD) && ctest $(CTEST_FLAGS)
	$(MAKE) test-neon
ifneq ($(FAST),1)
	$(MAKE) test-asan
	scripts/fuzz.sh $(FUZZ_SECONDS)
endif

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSOTTO_SANITIZE=ON -DSOTTO_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest $(CTEST_FLAGS) -LE 'slow|measure'

test-neon:
	@scripts/test_neon.sh build-neon

demo: deps
	$(MAKE) build
	@scripts/demo.sh $(BUILD)/sotto

bench: build
	@scripts/bench.sh $(BUILD)

bench-stream: build
	@cd $(BUILD) && ctest -R fixtures.generate_speech >/dev/null
	@bench/stream_latency.sh $(BUILD)

bench-vad-savings: build
	@cd $(BUILD) && ctest -R fixtures.generate_speech >/dev/null
	@bench/vad_savings.sh $(BUILD)

bench-whisper-streams: build
	@bench/whisper_streams.sh $(BUILD)

fuzz: deps
	@scripts/fuzz.sh

lint:
	@scripts/lint.sh

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
