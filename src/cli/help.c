/*
 * help.c - the help text of every command (`sotto help [command]`, `sotto CMD --help`).
 * Kept in one place so README and docs can be checked against it.
 */
#include <string.h>

#include "cli.h"

static const char help_overview[] =
    "sotto - speech to text, offline, in one small program\n"
    "\n"
    "usage: sotto <command> [options]\n"
    "\n"
    "commands:\n"
    "  transcribe   transcribe audio files to txt, json, srt, vtt or tsv\n"
    "  listen       live captions from a microphone, a growing recording or a file\n"
    "  models       list the recognizers built in and whether they can run here\n"
    "  model        create, inspect and quantize Whisper model files\n"
    "  wer          word error rate between a reference and a hypothesis text\n"
    "  bench        measure decoding and recognition speed and memory\n"
    "  serve        run the HTTP API (OpenAI-compatible, jobs, history)\n"
    "  user         add users to a server's data dir: sotto user add NAME\n"
    "  key          create or revoke API keys: sotto key new USER\n"
    "  help         show help for a command: sotto help transcribe\n"
    "\n"
    "options:\n"
    "  --version    print the version\n"
    "  -h, --help   this help\n"
    "\n"
    "exit codes: 0 ok, 1 failure, 2 bad command line, 3 bad or missing input,\n"
    "            4 recognizer or model unavailable, 5 output not writable, 130 interrupted\n";

static const char help_transcribe[] =
    "usage: sotto transcribe [options] FILE...\n"
    "\n"
    "Transcribe audio files (wav, flac, mp3, ogg, opus, m4a, webm, mp4 and more; '-' reads\n"
    "standard input). Audio is decoded, resampled to 16 kHz mono, cut at pauses and\n"
    "recognized offline.\n"
    "\n"
    "output:\n"
    "  -f, --format LIST      txt, json, srt, vtt, tsv; several comma-separated (default txt)\n"
    "  -o, --output DIR       write <name>.<ext> files into DIR. Without -o, one file with one\n"
    "                         format prints to stdout; otherwise files go beside each input\n"
    "  -q, --quiet            no progress bar or notices\n"
    "\n"
    "recognizer:\n"
    "  --backend NAME         sphinx (embedded default) or whisper (needs -m)\n"
    "  -m, --model FILE       model file (Whisper ggml .bin); implies --backend whisper\n"
    "  -l, --language CODE    language code (en, nl, ...) or auto (default: en for sphinx)\n"
    "  --prompt TEXT          initial prompt: names, terms, style to expect\n"
    "  --word-timestamps      include word start/end times (json)\n"
    "  -t, --threads N        compute threads (default: all cores)\n"
    "\n"
    "whisper decoding:\n"
    "  --beam-size N          beam search width at temperature 0 (default 5)\n"
    "  --best-of N            samples per temperature > 0 (default 5)\n"
    "  --temperature T        starting temperature (default 0)\n"
    "  --no-fallback          do not retry at higher temperatures\n"
    "  --translate            translate speech to English\n"
    "  --no-timestamps        decode without timestamp tokens\n"
    "\n"
    "raw input (headerless PCM):\n"
    "  --raw s16le|f32le      sample format  --rate N  sample rate  --channels N  channels\n"
    "\n"
    "examples:\n"
    "  sotto transcribe meeting.mp3\n"
    "  sotto transcribe -f srt,vtt -o subs/ talk.m4a\n"
    "  sotto transcribe -f json --word-timestamps interview.wav > interview.json\n"
    "  arecord -f S16_LE -r 16000 | sotto transcribe --raw s16le --rate 16000 --channels 1 -\n";

static const char help_listen[] =
    "usage: sotto listen [options] FILE\n"
    "       sotto listen [options] --follow FILE\n"
    "       sotto listen [options] --mic [--device NAME]\n"
    "\n"
    "Live transcription: audio goes through the streaming pipeline (voice activity\n"
    "detection, then a policy that decides which words are stable) and text comes out as it\n"
    "is recognized. On a terminal the unstable tail (partial) is shown dimmed in place and\n"
    "every final segment is printed once as \"[mm:ss.s - mm:ss.s] text\"; finals are never\n"
    "revised. When stdout is not a terminal only finals are printed. Ctrl-C stops the input,\n"
    "transcribes what was already heard and exits 0; a second Ctrl-C quits at once.\n"
    "\n"
    "source:\n"
    "  FILE                   any audio file sotto reads ('-' = standard input), as fast as\n"
    "                         possible\n"
    "  --realtime             pace FILE like live audio (40 ms pieces on the wall clock): to\n"
    "                         test latency\n"
    "  --follow FILE          a recording another program is still writing (WAV, or raw PCM\n"
    "                         with --raw): waits for it to appear, reads what is appended\n"
    "  --idle SECONDS         --follow: stop after this long without growth (default 10)\n"
    "  --mic                  the microphone: PulseAudio (or PipeWire's pulse), else ALSA\n"
    "  --device NAME          --mic input (default \"default\"); \"pulse:NAME\" or \"alsa:NAME\"\n"
    "                         to pick the system (list: pactl list sources short; arecord -L)\n"
    "  --raw s16le|f32le      headerless PCM  --rate N  sample rate  --channels N  channels\n"
    "\n"
    "output:\n"
    "  --json                 one JSON object per line, the events of the server's /v1/listen:\n"
    "                         speech_start/speech_end {t}, partial {text,start,end}, final\n"
    "                         {segment_id,text,start,end,words:[{word,start,end,p}],language},\n"
    "                         stats {audio_s,compute_s,rtf,latency_s,updates,...}\n"
    "  --stats                print a summary on stderr at the end: audio and compute seconds,\n"
    "                         RTF, recognizer updates, calls saved by the VAD, latency\n"
    "                         (--realtime)\n"
    "  -q, --quiet            no notices\n"
    "\n"
    "recognizer and policy:\n"
    "  -b, --backend NAME     sphinx (embedded default) or whisper (needs -m)\n"
    "  -m, --model FILE       Whisper ggml model; implies --backend whisper\n"
    "  -l, --language CODE    language code or auto\n"
    "  --task transcribe|translate  translate speech to English (Whisper)\n"
    "  --policy NAME          auto (default: native for sphinx, align_att for whisper),\n"
    "                         native, local_agreement, align_att\n"
    "  --domain NAME          built-in terms: medical, legal, technical, business, education\n"
    "  --terms LIST           your own terms, comma-separated (names, jargon)\n"
    "  --prompt TEXT          static context kept for the whole stream\n"
    "  --min-chunk SECONDS    new speech that triggers an update (default: the policy's)\n"
    "  --no-vad               send silence to the recognizer too (for comparisons)\n"
    "  --early-commit         native policy: finalize words mid-utterance (about 0.9 s instead\n"
    "                         of 2.6 s behind the speaker, same accuracy, 2.5x the CPU)\n"
    "  -t, --threads N        compute threads\n"
    "\n"
    "examples:\n"
    "  sotto listen --mic\n"
    "  sotto listen --realtime --stats talk.wav\n"
    "  arecord -f S16_LE -r 16000 -c 1 rec.wav &  sotto listen --follow rec.wav\n"
    "  sotto listen --json -m ggml-base.en.bin --policy local_agreement talk.mp3 | jq .\n"
    "  sotto listen --follow --raw s16le --rate 48000 --channels 2 --idle 30 capture.pcm\n";

static const char help_models[] =
    "usage: sotto models\n"
    "\n"
    "List every recognizer backend built into sotto, whether it can run on this machine,\n"
    "and what it needs when it cannot.\n";

static const char help_wer[] =
    "usage: sotto wer [--json] REF HYP\n"
    "\n"
    "Word error rate of a hypothesis against a reference. REF and HYP are text files ('-' for\n"
    "standard input for one of them). Both are normalized first: case, punctuation and\n"
    "numbers (42 -> forty two) do not count. Prints WER with substitutions, deletions and\n"
    "insertions.\n";

static const char help_bench[] =
    "usage: sotto bench [--json] [--backend NAME] [-m FILE] [-t N] [--greedy] AUDIO\n"
    "       sotto bench -m WHISPER_MODEL [--json] [-t N]\n"
    "\n"
    "Measure on this machine, for one audio file: decode throughput (how many times faster\n"
    "than real time the file is decoded and resampled), the recognizer's real-time factor\n"
    "(processing seconds per audio second; lower is faster) and the process's peak memory.\n"
    "'make bench' synthesizes a long recording with flite and runs this on it.\n"
    "\n"
    "With a Whisper model and no audio: load time, log-mel and encoder time per 30 s window,\n"
    "decoder time per token (greedy) and per step of 5 beams, batched tokens/s for 1, 4 and\n"
    "16 sequences, peak RSS, encoder GFLOP/s against OpenBLAS sgemm on the same shapes and\n"
    "threads (encoder_sgemm_ratio), and weight bytes read per second while decoding against\n"
    "memcpy (bytes copied per second; decoder_bandwidth_ratio). -t: threads (default 2).\n"
    "bench/whisper_rtf.sh MODEL times a 10-minute synthesized recording end to end.\n\n"
    "--greedy: Whisper end to end with greedy decoding and no temperature fallback";

static const char help_model[] =
    "usage: sotto model new --dims tiny|base|small|medium|large-v3|custom [--en]\n"
    "                       [--type f32|f16|q8_0|q5_0|q5_1|q4_0|q4_1] [--seed N] -o FILE\n"
    "       sotto model info FILE\n"
    "       sotto model quantize IN OUT TYPE\n"
    "\n"
    "new       write a valid Whisper model with random weights (for tests and benchmarks;\n"
    "          it transcribes nonsense). custom dims: --state N --heads N --enc-layers N\n"
    "          --dec-layers N --mels 80|128\n"
    "info      print dimensions, tensor types, size and sha256 of a model file\n"
    "quantize  rewrite a model's weight matrices as TYPE\n";

static const char help_serve[] =
    "usage: sotto serve [--listen HOST:PORT] [--data DIR] [--config FILE] [--auth on|off]\n"
    "                   [-m MODEL] [--workers N] [--warm-streams N]\n"
    "\n"
    "Run the HTTP API: OpenAI-compatible /v1/audio/transcriptions and /translations,\n"
    "durable jobs (/v1/jobs), conversation history with search (/v1/sessions, /v1/search),\n"
    "/health and /metrics. State lives in DIR/sotto.db (SQLite) and uploads in DIR/uploads.\n"
    "SIGTERM or Ctrl-C stops accepting, finishes requests in flight and stops cleanly.\n"
    "\n"
    "  --listen HOST:PORT  address (default 127.0.0.1:8080; port 0 picks a free one)\n"
    "  --data DIR          data dir (default ./sotto-data, or $SOTTO_DATA)\n"
    "  --config FILE       JSON config file (see docs/server.md); env SOTTO_* override it,\n"
    "                      command-line options override both\n"
    "  --auth on|off       require API keys (default on; off only on a loopback address)\n"
    "  -m, --model FILE    Whisper model for the default recognizer (default: PocketSphinx)\n"
    "  --workers N         job worker threads (default 1)\n"
    "  --warm-streams N    PocketSphinx stream decoders created in the background at start\n"
    "                      (about 95 MB and 0.3-0.5 s CPU each; default: the number of\n"
    "                      cores; 0 = none; only when streams default to sphinx, no -m)\n"
    "\n"
    "first run:\n"
    "  sotto user add alice --admin --data DIR\n"
    "  KEY=$(sotto key new alice --data DIR)\n"
    "  sotto serve --data DIR &\n"
    "  curl -H \"Authorization: Bearer $KEY\" -F file=@talk.wav -F model=whisper-1 \\\n"
    "       http://127.0.0.1:8080/v1/audio/transcriptions\n";

static const char help_user[] =
    "usage: sotto user add NAME [--admin] [--data DIR]\n"
    "\n"
    "Add a user to the data dir's store (the server may be running). --admin lets the\n"
    "user's keys manage users over the API (POST /v1/users).\n";

static const char help_key[] =
    "usage: sotto key new USER [--data DIR]\n"
    "       sotto key revoke KEY_OR_PREFIX [--data DIR]\n"
    "\n"
    "new     create an API key for USER and print it alone on one line (shown once: only\n"
    "        its SHA-256 is stored)\n"
    "revoke  revoke a key, given whole or by its first 8 characters after 'sk-sotto-'\n";

int cli_help(const char *command, FILE *f)
{
    static const struct {
        const char *name;
        const char *text;
    } topics[] = {
        {"transcribe", help_transcribe}, {"models", help_models}, {"wer", help_wer},
        {"bench", help_bench},           {"model", help_model},
        {"serve", help_serve},           {"user", help_user},   {"key", help_key},
        {"listen", help_listen},
    };
    if (!command) {
        fputs(help_overview, f);
        return 0;
    }
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        if (strcmp(command, topics[i].name) == 0) {
            fputs(topics[i].text, f);
            return 0;
        }
    }
    return -1;
}
