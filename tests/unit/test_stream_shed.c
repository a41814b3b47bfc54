/*
 * test_stream_shed.c - load shedding of threaded native streams (worker.c, vac.c): a stream
 * sheds when the machine is short of cores (it waited for a compute slot), not only when
 * its own backlog is long, and a shedding stream sends the recognizer a shorter pre-roll.
 * Real PocketSphinx on the fixture utterances (stream_test_fixtures.h).
 */
#include "check.h"
#include "stream_test_fixtures.h"

/* With one compute slot, a stream that must wait 0.6 s for it (another holds it) sheds
 * its utterance, although its own backlog never reaches max_backlog_s; the same stream
 * alone (no wait) runs the whole-utterance pass. 0.6 s is over SHED_SLOT_WAIT_S (0.3 s)
 * and under the 1 s after which waiters give up on a stuck holder. */
TEST(waiting_for_a_compute_slot_sheds)
{
    ASSERT_OK(setenv("SOTTO_STREAM_SLOTS", "1", 1)); /* read by the first threaded stream */
    sotto_asr *asr = sphinx_new();
    long_stream ls;
    build_stream(&ls, 1, 1.0);
    sotto_stream_options o;
    sotto_stream_options_init(&o);
    o.threaded = 1;
    o.shed_load = 1;
    o.max_backlog_s = 3600.0f; /* the backlog rule never fires: only the slot wait can */

    collect alone;
    collect_init(&alone);
    sotto_stream_stats sa;
    run_stream(asr, &o, ls.pcm, ls.n, ls.n, &alone, &sa);
    ASSERT_EQ(sa.shed_utterances, 0);
    ASSERT_EQ(sa.shedding, 0);

    slow_first sf = {0, 0, 0.6};
    collect waited;
    collect_init(&waited);
    sotto_stream *holder = NULL, *s = NULL;
    ASSERT_OK(sotto_stream_new(asr, &o, block_first_event, &sf, &holder));
    ASSERT_OK(sotto_stream_new(asr, &o, on_event, &waited, &s));
    ASSERT_OK(sotto_stream_feed(holder, ls.pcm, ls.n));
    wait_first_blocked(&sf); /* the holder has the slot now */
    ASSERT_OK(sotto_stream_feed(s, ls.pcm, ls.n));
    ASSERT_OK(sotto_stream_finish(s));
    sotto_stream_stats sw;
    sotto_stream_get_stats(s, &sw);
    ASSERT_EQ(atomic_load(&sf.released), 1); /* it did wait for the holder */
    fprintf(stderr, "slot wait: shed %lld of 1 utterance, finals \"%s\" (alone \"%s\")\n",
            (long long)sw.shed_utterances, waited.finals, alone.finals);
    ASSERT_EQ(sw.shed_utterances, 1);
    ASSERT_EQ(waited.n_finals, 1);
    ASSERT_TRUE(waited.finals[0] != '\0'); /* the live decoder's final is published */
    ASSERT_OK(sotto_stream_finish(holder));
    sotto_stream_free(s);
    sotto_stream_free(holder);
    free(ls.pcm);
    sotto_asr_free(asr);
}

/* A shedding stream opens each utterance with 0.3 s of pre-roll instead of 1 s: the same
 * four utterances reach the recognizer as less audio (voiced_s), with one final each and
 * the finals' WER within the shed bound of test_stream_native (batch + 10 points). The
 * gaps are 2-4 s so that a full pre-roll fits in each (it never reaches back into audio
 * already sent). */
TEST(shedding_stream_sends_a_shorter_pre_roll)
{
    sotto_asr *asr = sphinx_new();
    shed_pair p;
    run_shed_pair(asr, &p, 2.0, 0); /* the whole stream at once */
    double ws = stream_wer(&p.ls, &p.shed);
    fprintf(stderr, "pre-roll: voiced %.2f s shedding (%lld utterances shed) against %.2f s; WER %.2f%% "
                    "(batch %.2f%%, not shed %.2f%%)\n",
            p.ss.voiced_s, (long long)p.ss.shed_utterances, p.sf.voiced_s, 100 * ws, 100 * p.wb,
            100 * stream_wer(&p.ls, &p.full));
    ASSERT_EQ(p.ss.shed_utterances, 4);
    ASSERT_EQ(p.shed.n_finals, 4);
    ASSERT_EQ(p.full.n_starts, p.shed.n_starts);
    /* 0.7 s less per utterance, give or take the VAD's 40 ms pieces */
    ASSERT_TRUE(p.ss.voiced_s < p.sf.voiced_s - 4 * 0.6);
    ASSERT_TRUE(p.ss.voiced_s > p.sf.voiced_s - 4 * 0.8);
    ASSERT_TRUE(ws <= p.wb + 0.10);
    free(p.ls.pcm);
    sotto_asr_free(asr);
}
