/* test_vad.c - the energy-based utterance splitter on synthesized signals with known
 * speech placement: pauses, clicks, silence, over-long speech, block sizes, memory. */
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "sotto/audio.h"
#include "sotto/error.h"
#include "sotto/vad.h"

#define SR 16000
#define PI 3.14159265358979323846

/* ---- signal synthesis -------------------------------------------------------------- */

/* A scripted signal: background noise at noise_db (dBFS RMS; <= -200 = digital silence)
 * plus "speech" bursts: 300 Hz with harmonics, in 0.2 s syllables with 0.05 s dips of
 * -26 dB, like the energy contour of connected speech. */
typedef struct burst {
    double t0, t1;
} burst;

typedef struct script {
    double noise_db;
    const burst *bursts;
    size_t n_bursts;
    uint64_t rng;
} script;

static double noise_sample(script *s)
{
    /* uniform in [-1, 1) has RMS 1/sqrt(3) */
    s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(s->rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    return u * sqrt(3.0);
}

static double speech_sample(double t, double t0)
{
    double p = fmod(t - t0, 0.25);
    double env = p < 0.2 ? 1.0 : 0.05;
    double x = sin(2 * PI * 300 * t) + 0.5 * sin(2 * PI * 600 * t) + 0.3 * sin(2 * PI * 900 * t) +
               0.2 * sin(2 * PI * 1200 * t);
    return 0.1 * env * x;
}

/* Samples [first, first + n) of the script, generated in order (noise state advances). */
static void script_render(script *s, int64_t first, float *out, size_t n)
{
    double noise_amp = s->noise_db > -200 ? pow(10.0, s->noise_db / 20.0) : 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)(first + (int64_t)i) / SR;
        double x = noise_amp > 0 ? noise_amp * noise_sample(s) : 0.0;
        for (size_t b = 0; b < s->n_bursts; b++)
            if (t >= s->bursts[b].t0 && t < s->bursts[b].t1)
                x += speech_sample(t, s->bursts[b].t0);
        out[i] = (float)x;
    }
}

static float *script_make(const burst *bursts, size_t n_bursts, double noise_db, double len_s,
                          size_t *n)
{
    script s = {noise_db, bursts, n_bursts, 12345};
    *n = (size_t)(len_s * SR);
    float *pcm = malloc(*n * sizeof *pcm);
    ASSERT_TRUE(pcm);
    script_render(&s, 0, pcm, *n);
    return pcm;
}

/* ---- collecting utterances ---------------------------------------------------------- */

typedef struct utt {
    double t_start;
    size_t n;
    float *pcm; /* copy */
} utt;

typedef struct utt_list {
    utt u[256];
    size_t n;
} utt_list;

static void drain(sotto_splitter *sp, utt_list *l)
{
    const float *pcm;
    size_t n;
    double t;
    while (sotto_splitter_next(sp, &pcm, &n, &t)) {
        ASSERT_TRUE(l->n < 256);
        ASSERT_TRUE(n > 0);
        l->u[l->n].t_start = t;
        l->u[l->n].n = n;
        l->u[l->n].pcm = malloc(n * sizeof(float));
        ASSERT_TRUE(l->u[l->n].pcm);
        memcpy(l->u[l->n].pcm, pcm, n * sizeof(float));
        l->n++;
    }
}

static void list_free(utt_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->u[i].pcm);
    l->n = 0;
}

/* Split pcm fed in one block (block == 0) or in blocks of block samples. */
static void split(const sotto_splitter_options *o, const float *pcm, size_t n, size_t block,
                  utt_list *l)
{
    sotto_splitter *sp;
    ASSERT_OK(sotto_splitter_new(o, &sp));
    l->n = 0;
    for (size_t i = 0; i < n;) {
        size_t k = block ? (n - i < block ? n - i : block) : n;
        ASSERT_OK(sotto_splitter_feed(sp, pcm + i, k));
        drain(sp, l);
        i += k;
    }
    ASSERT_OK(sotto_splitter_finish(sp));
    drain(sp, l);
    sotto_splitter_free(sp);
}

/* Utterances come in order, never overlap, and hold exactly the input's samples. */
static void check_exact(const utt_list *l, const float *pcm, size_t n)
{
    double prev_end = 0;
    for (size_t i = 0; i < l->n; i++) {
        ASSERT_TRUE(l->u[i].t_start >= prev_end - 1e-9);
        size_t first = (size_t)llround(l->u[i].t_start * SR);
        ASSERT_NEAR(l->u[i].t_start * SR, (double)first, 1e-6);
        ASSERT_TRUE(first + l->u[i].n <= n);
        ASSERT_TRUE(memcmp(l->u[i].pcm, pcm + first, l->u[i].n * sizeof(float)) == 0);
        prev_end = l->u[i].t_start + (double)l->u[i].n / SR;
    }
}

/* What a scripted signal (script_make's arguments) splits into with default options, fed
 * in blocks of block samples (0: one block); check_exact holds for it. Caller frees *l. */
static void split_script(const burst *bursts, size_t n_bursts, double noise_db, double len_s,
                         size_t block, utt_list *l)
{
    size_t n;
    float *pcm = script_make(bursts, n_bursts, noise_db, len_s, &n);
    split(NULL, pcm, n, block, l);
    check_exact(l, pcm, n);
    free(pcm);
}

/* ---- tests ---------------------------------------------------------------------------- */

TEST(options_defaults_and_validation)
{
    sotto_splitter_options o;
    sotto_splitter_options_init(&o);
    ASSERT_NEAR(o.min_silence_s, 0.35, 1e-6);
    ASSERT_NEAR(o.max_utterance_s, 30, 1e-6);
    ASSERT_NEAR(o.pad_s, 0.25, 1e-6);
    ASSERT_NEAR(o.threshold_db, 12, 1e-6);
    sotto_splitter *sp = (sotto_splitter *)1;
    o.max_utterance_s = 0.5f;
    ASSERT_EQ(sotto_splitter_new(&o, &sp), SOTTO_EINVAL);
    ASSERT_TRUE(sp == NULL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "max_utterance_s");
    sotto_splitter_options_init(&o);
    o.min_silence_s = NAN;
    ASSERT_EQ(sotto_splitter_new(&o, &sp), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "min_silence_s");
    sotto_splitter_options_init(&o);
    o.pad_s = -1;
    ASSERT_EQ(sotto_splitter_new(&o, &sp), SOTTO_EINVAL);
    sotto_splitter_free(NULL);
}

TEST(two_bursts_one_second_apart_give_two_utterances)
{
    const burst b[] = {{1.0, 2.0}, {3.0, 4.0}};
    utt_list l;
    split_script(b, 2, -60, 5.0, 8000, &l);
    ASSERT_EQ(l.n, 2);
    for (size_t i = 0; i < 2; i++) {
        /* truth minus the 0.25 s lead-in pad; trailing pad likewise */
        ASSERT_NEAR(l.u[i].t_start, b[i].t0 - 0.25, 0.3);
        ASSERT_NEAR(l.u[i].t_start, b[i].t0 - 0.25, 0.03);
        /* the last syllable ends at t1 - 0.05 (its dip follows) */
        ASSERT_NEAR(l.u[i].t_start + (double)l.u[i].n / SR, b[i].t1 - 0.05 + 0.25, 0.03);
    }
    list_free(&l);
}

TEST(digital_silence_between_bursts)
{
    const burst b[] = {{0.5, 1.5}, {2.5, 3.0}};
    utt_list l;
    split_script(b, 2, -300, 4.0, 0, &l);
    ASSERT_EQ(l.n, 2);
    ASSERT_NEAR(l.u[0].t_start, 0.25, 0.03);
    ASSERT_NEAR(l.u[1].t_start, 2.25, 0.03);
    list_free(&l);
}

TEST(short_gap_keeps_one_utterance)
{
    const burst b[] = {{1.0, 2.0}, {2.2, 3.0}};
    utt_list l;
    split_script(b, 2, -55, 4.0, 1600, &l);
    ASSERT_EQ(l.n, 1);
    ASSERT_NEAR(l.u[0].t_start, 0.75, 0.03);
    ASSERT_NEAR(l.u[0].t_start + (double)l.u[0].n / SR, 3.25, 0.03);
    list_free(&l);
}

TEST(pad_is_clamped_to_the_input)
{
    /* speech from the first sample to the last: no room for either pad */
    const burst b[] = {{0.0, 2.0}};
    utt_list l;
    split_script(b, 1, -60, 2.0, 0, &l);
    ASSERT_TRUE(l.n >= 1);
    ASSERT_NEAR(l.u[l.n - 1].t_start + (double)l.u[l.n - 1].n / SR, 2.0, 1e-9);
    list_free(&l);
}

TEST(long_speech_is_cut_at_quiet_points)
{
    const burst b[] = {{1.0, 71.0}};
    utt_list l;
    split_script(b, 1, -60, 72.0, 0, &l);
    ASSERT_TRUE(l.n >= 3);
    size_t total = 0;
    for (size_t i = 0; i < l.n; i++) {
        ASSERT_TRUE(l.u[i].n <= (size_t)(30.0 * SR));
        total += l.u[i].n;
        if (i > 0) {
            /* pieces of one stretch are contiguous, and cut inside a syllable dip */
            double cut = l.u[i].t_start;
            ASSERT_NEAR(l.u[i - 1].t_start + (double)l.u[i - 1].n / SR, cut, 1e-9);
            double p = fmod(cut - 1.0, 0.25);
            ASSERT_TRUE(p >= 0.195 && p <= 0.255);
        }
    }
    /* the whole stretch plus its pads, nothing lost */
    ASSERT_NEAR(l.u[0].t_start, 0.75, 0.03);
    ASSERT_NEAR((double)total / SR, 70.5, 0.05);
    list_free(&l);
}

TEST(silence_and_noise_give_nothing)
{
    const double levels[] = {-300, -70, -60, -40, -25};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        utt_list l;
        split_script(NULL, 0, levels[i], 20.0, 4000, &l);
        if (l.n != 0)
            CHECK_FAIL("noise at %g dBFS gave %zu utterances", levels[i], l.n);
    }
}

TEST(clicks_are_dropped)
{
    /* 50 ms bursts: less speech than an utterance needs */
    const burst b[] = {{1.0, 1.05}, {2.0, 2.05}, {3.0, 3.05}};
    utt_list l;
    split_script(b, 3, -60, 4.0, 0, &l);
    ASSERT_EQ(l.n, 0);
}

TEST(random_block_sizes_give_the_same_utterances)
{
    const burst b[] = {{0.3, 1.3},   {2.0, 2.25},   {3.5, 12.0},
                       {12.5, 13.0}, {14.0, 14.08}, {15.0, 17.7}};
    size_t n;
    float *pcm = script_make(b, sizeof b / sizeof b[0], -50, 18.0, &n);
    sotto_splitter_options o;
    sotto_splitter_options_init(&o);
    o.max_utterance_s = 4.0f; /* exercise cuts too */
    utt_list whole;
    split(&o, pcm, n, 0, &whole);
    ASSERT_TRUE(whole.n >= 5);
    check_exact(&whole, pcm, n);

    sotto_splitter *sp;
    ASSERT_OK(sotto_splitter_new(&o, &sp));
    utt_list l = {.n = 0};
    uint64_t r = 99;
    for (size_t i = 0; i < n;) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t k = 1 + (size_t)((r >> 33) % 5000);
        if (k > n - i)
            k = n - i;
        ASSERT_OK(sotto_splitter_feed(sp, pcm + i, k));
        if ((r >> 20) & 1) /* sometimes let utterances queue up across feeds */
            drain(sp, &l);
        i += k;
    }
    ASSERT_OK(sotto_splitter_finish(sp));
    ASSERT_OK(sotto_splitter_finish(sp)); /* idempotent */
    drain(sp, &l);
    ASSERT_EQ(sotto_splitter_feed(sp, pcm, 10), SOTTO_EINVAL);
    sotto_splitter_free(sp);

    ASSERT_EQ(l.n, whole.n);
    for (size_t i = 0; i < l.n; i++) {
        ASSERT_EQ(l.u[i].n, whole.u[i].n);
        ASSERT_NEAR(l.u[i].t_start, whole.u[i].t_start, 1e-12);
        ASSERT_TRUE(memcmp(l.u[i].pcm, whole.u[i].pcm, l.u[i].n * sizeof(float)) == 0);
    }
    list_free(&l);
    list_free(&whole);
    free(pcm);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

TEST(memory_stays_bounded_over_ten_minutes)
{
    /* 10 min: 2 s of speech / 1.5 s of pause, with a 45 s monologue every 2.5 min. The
     * whole input as floats is 38 MB; the splitter may hold ~31 s (2 MB) plus a queue. */
    static burst b[256];
    size_t nb = 0;
    for (double t = 1.0; t < 600.0 && nb < 256;) {
        double len = fmod(t, 150.0) < 3.5 ? 45.0 : 2.0;
        b[nb].t0 = t;
        b[nb].t1 = t + len < 600.0 ? t + len : 600.0;
        nb++;
        t += len + 1.5;
    }
    script s = {-55, b, nb, 7};
    const size_t block = SR / 2;
    float *pcm = malloc(block * sizeof *pcm);
    ASSERT_TRUE(pcm);
    sotto_splitter *sp;
    ASSERT_OK(sotto_splitter_new(NULL, &sp));

    long rss0 = max_rss_kb();
    size_t n_utts = 0;
    double speech_s = 0, prev_end = 0, split_s = 0;
    for (int64_t i = 0; i < 600 * SR; i += (int64_t)block) {
        script_render(&s, i, pcm, block);
        double t0 = (double)clock() / CLOCKS_PER_SEC;
        ASSERT_OK(sotto_splitter_feed(sp, pcm, block));
        split_s += (double)clock() / CLOCKS_PER_SEC - t0;
        const float *u;
        size_t n;
        double t;
        while (sotto_splitter_next(sp, &u, &n, &t)) {
            ASSERT_TRUE(n <= (size_t)(30 * SR));
            ASSERT_TRUE(t >= prev_end - 1e-9);
            prev_end = t + (double)n / SR;
            speech_s += (double)n / SR;
            n_utts++;
        }
    }
    ASSERT_OK(sotto_splitter_finish(sp));
    const float *u;
    size_t n;
    double t;
    while (sotto_splitter_next(sp, &u, &n, &t))
        n_utts++;
    long grew_kb = max_rss_kb() - rss0;
    sotto_splitter_free(sp);
    free(pcm);

    printf("splitter: 600 s of audio in %.3f s CPU (%.2f s per hour), %zu utterances, "
           "%.1f s kept, max RSS grew %ld kB\n",
           split_s, split_s * 6.0, n_utts, speech_s, grew_kb);
    ASSERT_TRUE(n_utts >= (size_t)nb);
    ASSERT_TRUE(grew_kb < 20 * 1024);
}
