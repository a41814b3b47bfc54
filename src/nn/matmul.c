/*
 * matmul.c - picks the matmul kernel set for this CPU and owns nn_matmul_range, the
 * single-threaded range kernel every nn_matmul thread calls.
 *
 * The choice is made once (pthread_once) at first use: the best set the CPU supports
 * (__builtin_cpu_supports on x86, always NEON on aarch64), unless SOTTO_NN_ISA names
 * another. The kernels themselves live in matmul_<isa>.c, compiled with per-function
 * target attributes so the library still runs on CPUs without those extensions.
 * Also here: nn_pack_panel, the weight-panel packing the blocked (large m) kernels share.
 * Does not: split work over threads (kernels.c) or quantize activations (quant_act.c).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "nn/nn.h"

typedef void (*range_fn)(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                         float *y, int64_t row0, int64_t row1);

typedef struct isa_entry {
    const char *name;
    range_fn fn;
} isa_entry;

enum { ISA_SCALAR, ISA_AVX2, ISA_AVX512, ISA_NEON, ISA_COUNT };

static const isa_entry isas[ISA_COUNT] = {
    [ISA_SCALAR] = {"scalar", nn_matmul_range_ref},
    [ISA_AVX2] = {"avx2", nn_matmul_range_avx2},
    [ISA_AVX512] = {"avx512", nn_matmul_range_avx512},
#if defined(__aarch64__)
    [ISA_NEON] = {"neon", nn_matmul_range_neon},
#else
    [ISA_NEON] = {"neon", NULL}, /* matmul_neon.c is empty here; isa_ok says no */
#endif
};

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static atomic_int isa_current = ISA_SCALAR;

#if defined(__x86_64__)
#include <cpuid.h>
/* F16C from cpuid leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports has no "f16c". */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

static int isa_ok(int id)
{
    switch (id) {
    case ISA_SCALAR:
        return 1;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case ISA_AVX512:
        __builtin_cpu_init();
        /* the AVX-512 kernels also use AVX2/F16C instructions on 256-bit halves */
        return isa_ok(ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
#endif
#if defined(__aarch64__)
    case ISA_NEON:
        return 1; /* Advanced SIMD is mandatory on AArch64 */
#endif
    default:
        return 0;
    }
}

static int isa_find(const char *name)
{
    for (int i = 0; name && i < ISA_COUNT; i++)
        if (strcmp(isas[i].name, name) == 0)
            return i;
    return -1;
}

static void isa_init(void)
{
    int best = ISA_SCALAR;
    const int order[] = {ISA_AVX512, ISA_AVX2, ISA_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (isa_ok(order[i])) {
            best = order[i];
            break;
        }
    }
    const char *env = getenv("SOTTO_NN_ISA");
    if (env && *env) {
        int id = isa_find(env);
        if (id >= 0 && isa_ok(id))
            best = id;
        else /* a forced set that cannot run must not crash; say so once */
            fprintf(stderr, "sotto: SOTTO_NN_ISA=%s is %s on this machine; using %s\n", env,
                    id < 0 ? "unknown (scalar, avx2, avx512, neon)" : "not supported",
                    isas[best].name);
    }
    atomic_store(&isa_current, best);
}

const char *nn_isa_name(void)
{
    pthread_once(&isa_once, isa_init);
    return isas[atomic_load(&isa_current)].name;
}

int nn_isa_supported(const char *name)
{
    int id = isa_find(name);
    return id >= 0 && isa_ok(id);
}

int nn_isa_set(const char *name)
{
    pthread_once(&isa_once, isa_init);
    int id = isa_find(name);
    if (id < 0)
        return error_set(SOTTO_EINVAL, "unknown kernel set '%s' (scalar, avx2, avx512, neon)",
                         name ? name : "");
    if (!isa_ok(id))
        return error_set(SOTTO_EINVAL, "kernel set '%s' is not supported on this CPU", name);
    atomic_store(&isa_current, id);
    return 0;
}

void nn_matmul_range(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
                     int64_t row0, int64_t row1)
{
    pthread_once(&isa_once, isa_init);
    if (m <= 0 || row1 <= row0)
        return;
    isas[atomic_load_explicit(&isa_current, memory_order_relaxed)].fn(w, bias, x, m, y, row0,
                                                                      row1);
}

void nn_pack_panel(const nn_tensor *w, int64_t r0, int nr, int ldp, int64_t k0, int64_t kc,
                   float *panel)
{
    SOTTO_ASSERT(kc > 0 && kc <= 512 && nr <= ldp);
    int64_t k = w->ne[0];
    size_t row_bytes = nn_row_bytes(w->type, k), col_bytes = nn_row_bytes(w->type, k0);
    const uint8_t *base = w->data;
    float tmp[512];
    for (int j = 0; j < nr; j++) {
        /* widen the row segment contiguously, then scatter it down the panel column */
        nn_dequantize_row(w->type, base + (size_t)(r0 + j) * row_bytes + col_bytes, tmp, kc);
        for (int64_t kk = 0; kk < kc; kk++)
            panel[kk * ldp + j] = tmp[kk];
    }
    for (int j = nr; j < ldp; j++)
        for (int64_t kk = 0; kk < kc; kk++)
            panel[kk * ldp + j] = 0.0f;
}
