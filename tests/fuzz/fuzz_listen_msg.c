/*
 * fuzz_listen_msg.c - libFuzzer target for the /v1/listen control-message and parameter
 * parsers (src/server/listen_msg.c).
 *
 * The input is used three ways: as a text frame (listen_msg_parse, with the parameters of
 * a start message applied), as a URL query string (listen_params_from_query), and as a
 * binary audio frame in both sample formats, resampled from a rate taken from the first
 * bytes. Checks what the parser promises: a success has a known type, parameters stay in
 * range and their strings are NUL-terminated within their fields; a failure leaves a
 * message; conversion yields len/2 or len/4 finite samples in [-1, 1] or fails cleanly.
 * Errors are expected; a crash, leak or abort is a bug.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/listen_msg.h"
#include "sotto/sotto.h"

static void check_params(const listen_params *p)
{
    if (p->sample_rate < LISTEN_MIN_RATE || p->sample_rate > LISTEN_MAX_RATE)
        abort();
    if (p->format != LISTEN_S16LE && p->format != LISTEN_F32LE)
        abort();
    if (p->policy < SOTTO_POLICY_AUTO || p->policy > SOTTO_POLICY_ALIGN_ATT)
        abort();
    if (!memchr(p->model, 0, sizeof p->model) || !memchr(p->language, 0, sizeof p->language) ||
        !memchr(p->session_id, 0, sizeof p->session_id) || !memchr(p->domain, 0, sizeof p->domain))
        abort();
    if ((p->prompt && strlen(p->prompt) > LISTEN_MAX_TEXT) || (p->terms && strlen(p->terms) > LISTEN_MAX_TEXT))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    listen_params p;
    listen_params_init(&p);
    listen_msg m;
    int rc = listen_msg_parse((const char *)data, size, &p, &m);
    if (rc == 0 && (m.type < LISTEN_MSG_START || m.type > LISTEN_MSG_PING || !memchr(m.id, 0, sizeof m.id)))
        abort();
    if (rc != 0 && !sotto_last_error()[0])
        abort();
    check_params(&p);

    char *q = malloc(size + 1);
    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    static const char *const skip[] = {"api_key", NULL};
    (void)listen_params_from_query(&p, q, skip);
    check_params(&p);
    listen_params_clear(&p);
    free(q);

    float *pcm = NULL, *out = NULL;
    size_t cap = 0, ocap = 0, n = 0, no = 0;
    for (int f = 0; f < 2; f++) {
        listen_format fmt = f ? LISTEN_F32LE : LISTEN_S16LE;
        size_t bps = f ? 4 : 2;
        if (listen_pcm_convert(fmt, data, size, &pcm, &cap, &n) == 0) {
            if (size % bps || n != size / bps)
                abort();
            for (size_t i = 0; i < n; i++)
                if (!isfinite(pcm[i]) || pcm[i] < -1.0f || pcm[i] > 1.0f)
                    abort();
        } else if (size % bps == 0 && f == 0) {
            abort(); /* whole s16 samples are always accepted */
        }
    }
    if (size >= 2 && n > 0) {
        int rate = LISTEN_MIN_RATE + (data[0] | data[1] << 8) * 5;
        listen_resampler r;
        if (listen_resampler_init(&r, rate) == 0) {
            size_t half = n / 2;
            if (listen_resampler_run(&r, pcm, half, 0, &out, &ocap, &no) != 0 ||
                listen_resampler_run(&r, pcm + half, n - half, 1, &out, &ocap, &no) != 0)
                abort();
            for (size_t i = 0; i < no; i++)
                if (!isfinite(out[i]))
                    abort();
            listen_resampler_free(&r);
        }
    }
    free(pcm);
    free(out);
    return 0;
}
