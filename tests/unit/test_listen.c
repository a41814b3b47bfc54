/* test_listen.c - the pure parts of GET /v1/listen (src/server/listen_msg.c): stream
 * parameters from a query string and a start message, control messages and their errors,
 * binary frames into samples, the resampler (tones at 8/44.1/48 kHz keep their frequency
 * and level, out-of-band tones are removed, chunking does not change the output), error
 * events, and the exact JSON of stream events (src/stream/event_json.c), which the server
 * and `sotto listen --json` share. The WebSocket itself is tested end to end (tests/e2e/listen_*). */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "server/listen_msg.h"
#include "sotto/error.h"
#include "sotto/json.h"
#include "sotto/server.h"
#include "sotto/sotto.h"

#define PI 3.14159265358979323846

TEST(params_defaults_and_query)
{
    listen_params p;
    listen_params_init(&p);
    ASSERT_EQ(p.sample_rate, 16000);
    ASSERT_EQ(p.format, LISTEN_S16LE);
    ASSERT_EQ(p.policy, SOTTO_POLICY_AUTO);
    static const char *const skip[] = {"api_key", NULL};
    ASSERT_OK(listen_params_from_query(&p,
                                       "api_key=sk-x&model=sphinx&language=en&task=translate&policy=native"
                                       "&format=f32le&sample_rate=48000&session_id=ses_1&prompt=hello+w%C3%B6rld"
                                       "&terms=a%2Cb&domain=medical&early_commit=1",
                                       skip));
    ASSERT_STR_EQ(p.model, "sphinx");
    ASSERT_STR_EQ(p.language, "en");
    ASSERT_EQ(p.translate, 1);
    ASSERT_EQ(p.policy, SOTTO_POLICY_NATIVE);
    ASSERT_EQ(p.format, LISTEN_F32LE);
    ASSERT_EQ(p.sample_rate, 48000);
    ASSERT_STR_EQ(p.session_id, "ses_1");
    ASSERT_STR_EQ(p.prompt, "hello w\xc3\xb6rld");
    ASSERT_STR_EQ(p.terms, "a,b");
    ASSERT_STR_EQ(p.domain, "medical");
    ASSERT_EQ(p.early_commit, 1);
    listen_params_clear(&p);
    ASSERT_TRUE(p.prompt == NULL && p.terms == NULL);
}

TEST(params_rejects_bad_values)
{
    listen_params p;
    listen_params_init(&p);
    ASSERT_EQ(listen_params_from_query(&p, "sample_rate=12x", NULL), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "sample_rate");
    ASSERT_EQ(listen_params_from_query(&p, "sample_rate=100", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "sample_rate=99999999999999999999", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "policy=magic", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "task=summarize", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "format=u8", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "domain=astrology", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "early_commit=maybe", NULL), SOTTO_EINVAL);
    ASSERT_EQ(p.domain[0], '\0');
    ASSERT_EQ(listen_params_from_query(&p, "colour=blue", NULL), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "unknown parameter 'colour'");
    ASSERT_EQ(listen_params_from_query(&p, "language=e%2", NULL), SOTTO_EINVAL);   /* cut escape */
    ASSERT_EQ(listen_params_from_query(&p, "language=e%zz", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "lang%00uage=en", NULL), SOTTO_EINVAL); /* NUL in key */
    ASSERT_EQ(listen_params_from_query(&p, "session_id=a%20b", NULL), SOTTO_EINVAL);
    ASSERT_EQ(listen_params_from_query(&p, "prompt=%FF%FE", NULL), SOTTO_EINVAL);  /* not UTF-8 */
    char big[60000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "prompt=", 7);
    ASSERT_EQ(listen_params_from_query(&p, big, NULL), SOTTO_EINVAL);
    /* empty pieces and a key without value are fine or a clear error, never a crash */
    ASSERT_OK(listen_params_from_query(&p, "&&", NULL));
    ASSERT_EQ(listen_params_from_query(&p, "model", NULL), 0); /* model="" = default */
    listen_params_clear(&p);
}

TEST(control_messages)
{
    listen_params p;
    listen_params_init(&p);
    listen_msg m;
    const char *start = "{\"type\":\"start\",\"policy\":\"local_agreement\",\"sample_rate\":8000,"
                        "\"language\":\"en\",\"prompt\":null,\"terms\":\"sotto, whisper\"}";
    ASSERT_OK(listen_msg_parse(start, strlen(start), &p, &m));
    ASSERT_EQ(m.type, LISTEN_MSG_START);
    ASSERT_EQ(p.policy, SOTTO_POLICY_LOCAL_AGREEMENT);
    ASSERT_EQ(p.sample_rate, 8000);
    ASSERT_STR_EQ(p.terms, "sotto, whisper");
    ASSERT_OK(listen_msg_parse("{\"type\":\"flush\"}", 16, &p, &m));
    ASSERT_EQ(m.type, LISTEN_MSG_FLUSH);
    ASSERT_OK(listen_msg_parse("{\"type\":\"stop\"}", 15, NULL, &m));
    ASSERT_EQ(m.type, LISTEN_MSG_STOP);
    const char *ping = "{\"type\":\"ping\",\"id\":\"abc\"}";
    ASSERT_OK(listen_msg_parse(ping, strlen(ping), NULL, &m));
    ASSERT_EQ(m.type, LISTEN_MSG_PING);
    ASSERT_STR_EQ(m.id, "abc");
    ASSERT_OK(listen_msg_parse("{\"type\":\"ping\",\"id\":7}", 22, NULL, &m));
    ASSERT_STR_EQ(m.id, "7");

    static const char *bad[] = {"", "hello", "[1,2]", "{\"type\":1}", "{}", "{\"type\":\"dance\"}",
                                "{\"type\":\"start\",\"sample_rate\":1.5}",
                                "{\"type\":\"start\",\"sample_rate\":[1]}",
                                "{\"type\":\"start\",\"bogus\":\"x\"}", "{\"type\":\"start\"", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sotto_clear_error();
        ASSERT_EQ(listen_msg_parse(bad[i], strlen(bad[i]), &p, &m), SOTTO_EINVAL);
        ASSERT_TRUE(sotto_last_error()[0] != '\0');
    }
    ASSERT_EQ(listen_msg_parse("{\"type\":\"dance\"}", 16, &p, &m), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "unknown message type 'dance'");
    /* a type with an embedded NUL is not "stop" */
    ASSERT_EQ(listen_msg_parse("{\"type\":\"stop\\u0000x\"}", 22, &p, &m), SOTTO_EINVAL);
    listen_params_clear(&p);
}

TEST(pcm_frames)
{
    float *out = NULL;
    size_t cap = 0, n = 0;
    const unsigned char s16[] = {0x00, 0x80, 0xff, 0x7f, 0x00, 0x00, 0x00, 0x40};
    ASSERT_OK(listen_pcm_convert(LISTEN_S16LE, s16, sizeof s16, &out, &cap, &n));
    ASSERT_EQ(n, 4);
    ASSERT_NEAR(out[0], -1.0, 1e-6);
    ASSERT_NEAR(out[1], 32767.0 / 32768.0, 1e-6);
    ASSERT_NEAR(out[2], 0.0, 1e-6);
    ASSERT_NEAR(out[3], 0.5, 1e-6);
    ASSERT_EQ(listen_pcm_convert(LISTEN_S16LE, s16, 3, &out, &cap, &n), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "s16le frames must hold whole samples");
    ASSERT_EQ(n, 0);
    float f[3] = {0.25f, -2.0f, 0.0f};
    ASSERT_OK(listen_pcm_convert(LISTEN_F32LE, f, sizeof f, &out, &cap, &n));
    ASSERT_EQ(n, 3);
    ASSERT_NEAR(out[0], 0.25, 1e-7);
    ASSERT_NEAR(out[1], -1.0, 1e-7); /* clamped */
    f[2] = NAN;
    ASSERT_EQ(listen_pcm_convert(LISTEN_F32LE, f, sizeof f, &out, &cap, &n), SOTTO_EINVAL);
    ASSERT_EQ(listen_pcm_convert(LISTEN_F32LE, f, 6, &out, &cap, &n), SOTTO_EINVAL);
    ASSERT_OK(listen_pcm_convert(LISTEN_S16LE, s16, 0, &out, &cap, &n));
    ASSERT_EQ(n, 0);
    free(out);
}

/* Resample a tone of freq Hz at rate in `chunk`-sample pieces; returns the output. */
static float *resample_tone(int rate, double freq, double secs, size_t chunk, size_t *n_out)
{
    *n_out = 0;
    size_t n = (size_t)(rate * secs);
    float *in = malloc(n * sizeof *in);
    for (size_t i = 0; i < n; i++)
        in[i] = (float)(0.5 * sin(2 * PI * freq * (double)i / rate));
    listen_resampler r;
    if (listen_resampler_init(&r, rate) != 0) {
        free(in);
        return NULL;
    }
    float *out = NULL, *tmp = NULL;
    size_t tcap = 0, total = 0;
    for (size_t off = 0; off <= n; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        int last = off + m >= n;
        size_t k = 0;
        if (listen_resampler_run(&r, in + off, m, last, &tmp, &tcap, &k) != 0)
            break; /* the caller's checks fail on the short output */
        out = realloc(out, (total + k + 1) * sizeof *out);
        if (k)
            memcpy(out + total, tmp, k * sizeof *tmp);
        total += k;
        if (last)
            break;
    }
    listen_resampler_free(&r);
    free(tmp);
    free(in);
    *n_out = total;
    return out;
}

/* Amplitude of freq in x (16 kHz) by correlation, over the middle (edges excluded). */
static double tone_amp(const float *x, size_t n, double freq)
{
    double re = 0, im = 0;
    size_t a = n / 10, b = n - n / 10;
    for (size_t i = a; i < b; i++) {
        re += x[i] * cos(2 * PI * freq * (double)i / 16000);
        im += x[i] * sin(2 * PI * freq * (double)i / 16000);
    }
    return 2 * sqrt(re * re + im * im) / (double)(b - a);
}

TEST(resampler_keeps_tones_and_removes_aliases)
{
    static const int rates[] = {8000, 16000, 22050, 44100, 48000};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        size_t n;
        float *y = resample_tone(rates[i], 1000.0, 1.0, 1024, &n);
        ASSERT_TRUE(y != NULL);
        ASSERT_TRUE(labs((long)n - 16000) <= 1); /* one second in, one second out */
        ASSERT_NEAR(tone_amp(y, n, 1000.0), 0.5, 0.01);
        free(y);
    }
    /* 12 kHz at 48 kHz is above the 8 kHz Nyquist rate: removed, not folded to 4 kHz */
    size_t n;
    float *y = resample_tone(48000, 12000.0, 1.0, 960, &n);
    double e = 0;
    for (size_t i = n / 10; i < n - n / 10; i++)
        e += (double)y[i] * y[i];
    double rms = sqrt(e / (double)(n - n / 5));
    ASSERT_TRUE(rms < 0.5 / sqrt(2) * 0.01); /* below -40 dB */
    free(y);
}

TEST(resampler_output_independent_of_chunking)
{
    size_t n1 = 0, n2 = 0, n3 = 0;
    float *a = resample_tone(44100, 440.0, 0.5, 100000, &n1);
    float *b = resample_tone(44100, 440.0, 0.5, 7, &n2);
    float *c = resample_tone(44100, 440.0, 0.5, 441, &n3);
    ASSERT_EQ(n1, n2);
    ASSERT_EQ(n1, n3);
    for (size_t i = 0; i < n1; i++) {
        ASSERT_NEAR(a[i], b[i], 1e-6);
        ASSERT_NEAR(a[i], c[i], 1e-6);
    }
    free(a);
    free(b);
    free(c);
    listen_resampler r;
    ASSERT_EQ(listen_resampler_init(&r, 100), SOTTO_EINVAL);
}

/* The final event the JSON tests encode: segment 3 at 1-2 s, in English, with two words
 * (one with a quote to escape), written into w. */
static sotto_stream_event sample_final(sotto_word w[2])
{
    w[0] = (sotto_word){" hello", 1.0, 1.4, 0.9f};
    w[1] = (sotto_word){"wor\"ld", 1.5, 2.0, 0.5f};
    sotto_stream_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_FINAL;
    ev.text = "hello wor\"ld";
    ev.start = 1.0;
    ev.end = 2.0;
    ev.segment_id = 3;
    ev.words = w;
    ev.n_words = 2;
    ev.language = "en";
    return ev;
}

static sotto_json *parse_buf(const sotto_buf *b)
{
    sotto_json *j = NULL;
    if (sotto_json_parse(b->data, b->len, NULL, &j) != 0)
        return NULL;
    return j;
}

TEST(events_as_json)
{
    sotto_word w[2];
    sotto_stream_event ev = sample_final(w);
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_OK(sotto_stream_event_json(&ev, 10.0, &b));
    sotto_json *j = parse_buf(&b);
    ASSERT_TRUE(j != NULL);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(j, "type"), ""), "final");
    ASSERT_NEAR(sotto_json_number(sotto_json_get(j, "start"), 0), 11.0, 1e-9);
    ASSERT_EQ(sotto_json_number(sotto_json_get(j, "segment_id"), 0), 3);
    const sotto_json *ws = sotto_json_get(j, "words");
    ASSERT_EQ(sotto_json_len(ws), 2);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(sotto_json_at(ws, 0), "word"), ""), "hello");
    ASSERT_NEAR(sotto_json_number(sotto_json_get(sotto_json_at(ws, 1), "end"), 0), 12.0, 1e-9);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(j, "language"), ""), "en");
    sotto_json_free(j);

    sotto_stream_stats st;
    memset(&st, 0, sizeof st);
    st.rtf = 0.25;
    st.updates = 7;
    st.degraded = 1;
    st.backlog_s = NAN; /* never invalid JSON */
    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_STATS;
    ev.stats = &st;
    sotto_buf_reset(&b);
    ASSERT_OK(sotto_stream_event_json(&ev, 0, &b));
    j = parse_buf(&b);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ(sotto_json_bool(sotto_json_get(j, "degraded"), 0), 1);
    ASSERT_EQ(sotto_json_number(sotto_json_get(j, "updates"), 0), 7);
    sotto_json_free(j);

    static const sotto_stream_event_type others[] = {SOTTO_STREAM_SPEECH_START, SOTTO_STREAM_SPEECH_END,
                                                     SOTTO_STREAM_PARTIAL};
    for (size_t i = 0; i < 3; i++) {
        memset(&ev, 0, sizeof ev);
        ev.type = others[i];
        ev.t = 2.5;
        ev.text = i == 2 ? "par\ntial" : NULL;
        sotto_buf_reset(&b);
        ASSERT_OK(sotto_stream_event_json(&ev, 1.0, &b));
        j = parse_buf(&b);
        ASSERT_TRUE(j != NULL);
        sotto_json_free(j);
    }
    sotto_buf_reset(&b);
    ASSERT_OK(listen_error_json(&b, "invalid_audio", "bad \"frame\""));
    j = parse_buf(&b);
    ASSERT_TRUE(j != NULL);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(j, "message"), ""), "bad \"frame\"");
    sotto_json_free(j);
    sotto_buf_free(&b);
}

/* The exact bytes of each event: the server's frames and `sotto listen --json` lines
 * both come from sotto_stream_event_json, and clients parse this format. */
TEST(event_json_exact_bytes)
{
    sotto_word w[2];
    sotto_stream_event ev = sample_final(w);
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_OK(sotto_stream_event_json(&ev, 10.0, &b));
    ASSERT_STR_EQ(b.data, "{\"type\":\"final\",\"segment_id\":3,\"text\":\"hello wor\\\"ld\",\"start\":11,\"end\":12,"
                          "\"words\":[{\"word\":\"hello\",\"start\":11,\"end\":11.4,\"p\":0.9},"
                          "{\"word\":\"wor\\\"ld\",\"start\":11.5,\"end\":12,\"p\":0.5}],\"language\":\"en\"}");

    sotto_stream_stats st;
    memset(&st, 0, sizeof st);
    st.rtf = 0.25;
    st.latency_s = 0.1234;
    st.updates = 7;
    st.updates_no_vad = 9;
    st.degraded = 1;
    st.backlog_s = NAN;
    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_STATS;
    ev.stats = &st;
    sotto_buf_reset(&b);
    ASSERT_OK(sotto_stream_event_json(&ev, 5.0, &b)); /* figures are not times: no offset */
    ASSERT_STR_EQ(b.data, "{\"type\":\"stats\",\"latency_s\":0.123,\"rtf\":0.25,\"buffered_s\":0,\"backlog_s\":null,"
                          "\"audio_s\":0,\"voiced_s\":0,\"compute_s\":0,\"degraded\":true,\"shedding\":false,\"updates\":7,"
                          "\"updates_no_vad\":9}");

    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_SPEECH_START;
    ev.t = 2.5;
    sotto_buf_reset(&b);
    ASSERT_OK(sotto_stream_event_json(&ev, 1.0, &b));
    ASSERT_STR_EQ(b.data, "{\"type\":\"speech_start\",\"t\":3.5}");
    ev.type = SOTTO_STREAM_SPEECH_END;
    sotto_buf_reset(&b);
    ASSERT_OK(sotto_stream_event_json(&ev, 0, &b));
    ASSERT_STR_EQ(b.data, "{\"type\":\"speech_end\",\"t\":2.5}");
    ev.type = SOTTO_STREAM_PARTIAL;
    ev.text = "par\ntial";
    ev.start = 0.25;
    ev.end = 1.5;
    sotto_buf_reset(&b);
    ASSERT_OK(sotto_stream_event_json(&ev, 1.0, &b));
    ASSERT_STR_EQ(b.data, "{\"type\":\"partial\",\"text\":\"par\\ntial\",\"start\":1.25,\"end\":2.5}");

    /* bad events are errors, never half an object passed off as valid */
    ev.type = SOTTO_STREAM_STATS;
    ev.stats = NULL;
    ASSERT_EQ(sotto_stream_event_json(&ev, 0, &b), SOTTO_EINVAL);
    ev.type = (sotto_stream_event_type)99;
    ASSERT_EQ(sotto_stream_event_json(&ev, 0, &b), SOTTO_EINVAL);
    ASSERT_EQ(sotto_stream_event_json(NULL, 0, &b), SOTTO_EINVAL);
    sotto_buf_free(&b);
}

/* limits.max_streams: config key and SOTTO_MAX_STREAMS (0 = automatic, the default);
 * bad values name the key or the variable. */
TEST(config_max_streams)
{
    sotto_server_options o;
    sotto_server_options_init(&o);
    ASSERT_EQ(o.limits.max_streams, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/sotto.json", check_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(fd >= 0);
    static const char cfg[] = "{\"http_threads\": 16, \"limits\": {\"max_streams\": 3}}";
    ASSERT_EQ(write(fd, cfg, sizeof cfg - 1), (ssize_t)(sizeof cfg - 1));
    close(fd);
    ASSERT_OK(sotto_server_config_load(&o, path));
    ASSERT_EQ(o.limits.max_streams, 3);
    setenv("SOTTO_MAX_STREAMS", "5", 1);
    ASSERT_OK(sotto_server_config_env(&o));
    ASSERT_EQ(o.limits.max_streams, 5);
    setenv("SOTTO_MAX_STREAMS", "many", 1);
    ASSERT_EQ(sotto_server_config_env(&o), SOTTO_EINVAL);
    ASSERT_TRUE(strstr(sotto_last_error(), "SOTTO_MAX_STREAMS") != NULL);
    unsetenv("SOTTO_MAX_STREAMS");

    static const char bad[] = "{\"limits\": {\"max_streams\": -1}}";
    fd = open(path, O_WRONLY | O_TRUNC);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
    close(fd);
    ASSERT_EQ(sotto_server_config_load(&o, path), SOTTO_EINVAL);
    ASSERT_TRUE(strstr(sotto_last_error(), "max_streams") != NULL);
    unlink(path);
    sotto_server_options_free(&o);
}
