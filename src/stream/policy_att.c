/*
 * policy_att.c - the `align_att` policy: glue between the stream and the recognizer's
 * attention-guided incremental decoder (asr_simul_*, Whisper; src/asr/asr_int.h).
 *
 * Each update hands the whole utterance buffer (at most max_buffer_s) to
 * asr_simul_update with tau_frames during speech, tau_end_frames and final = 1 at the
 * utterance's end; the decoder keeps the tokens it committed inside this buffer and
 * returns the words completed by this update (one final) and its unstable tail (the
 * partial). Past max_buffer_s the oldest audio is dropped (asr_simul_drop forgets the
 * tokens it held); their text is already in the stream's rolling context, which becomes
 * the prompt for what stays. A new utterance resets the decoder (context stays).
 */
#include <stdlib.h>

#include "asr/asr_int.h"
#include "base/base_int.h"
#include "stream/stream_int.h"

typedef struct att_state {
    asr_simul *simul;
} att_state;

static int att_create(sotto_stream *s, void **state)
{
    att_state *as = calloc(1, sizeof *as);
    if (!as)
        return error_set(SOTTO_ENOMEM, "out of memory creating the align_att policy");
    int rc = asr_simul_new(s->asr, &as->simul);
    if (rc < 0) {
        free(as);
        return rc;
    }
    *state = as;
    return 0;
}

static void att_destroy(void *state)
{
    att_state *as = state;
    if (!as)
        return;
    asr_simul_free(as->simul);
    free(as);
}

static int att_update(sotto_stream *s, void *state, int final)
{
    att_state *as = state;
    int rc = 0;
    size_t max_n = (size_t)((double)s->o.max_buffer_s * STREAM_RATE);
    if (s->buf_n > max_n) {
        /* drop a chunk more than the excess, so the next updates have room */
        size_t chunk = (size_t)((double)s->min_chunk_s * STREAM_RATE);
        size_t drop = s->buf_n - max_n + (chunk < max_n / 2 ? chunk : 0);
        rc = asr_simul_drop(as->simul, drop);
        if (rc < 0)
            return rc;
        stream_buf_drop(s, drop);
    }
    if (s->buf_n > 0) {
        asr_simul_call call = {0};
        asr_simul_out out = {0};
        call.pcm = s->buf;
        call.n = s->buf_n;
        call.t_offset = s->buf_t0;
        /* committed words still inside the buffer are forced by the decoder itself */
        call.prompt = context_prompt(&s->ctx, s->buf_t0);
        call.tau_frames = final ? s->o.tau_end_frames : s->o.tau_frames;
        call.final = final;
        double t0 = time_now();
        rc = asr_simul_update(as->simul, &call, &out);
        stream_count_call(s, time_now() - t0);
        if (rc < 0)
            return rc;
        rc = stream_emit_final(s, out.words, out.n_words, out.language);
        double end = s->buf_t0 + (double)s->buf_n / STREAM_RATE;
        double start = out.n_words ? out.words[out.n_words - 1].end : s->buf_t0;
        if (rc == 0 && !final)
            rc = stream_emit_partial(s, out.partial ? out.partial : "", start, end);
    }
    if (final) {
        stream_buf_drop(s, s->buf_n);
        asr_simul_reset(as->simul);
    }
    return rc;
}

const stream_policy_ops stream_policy_att = {
    .name = "align_att",
    .create = att_create,
    .destroy = att_destroy,
    .update = att_update,
};
