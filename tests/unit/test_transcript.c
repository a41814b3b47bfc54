/* test_transcript.c - the transcript container and its txt/json/tsv/srt/vtt renderers. */
#include <stdio.h>
#include <sys/wait.h>

#include "check.h"
#include "sotto/error.h"
#include "sotto/transcript.h"

/* A segment whose strings point at the caller's storage (append deep-copies them). */
static sotto_segment seg_make(double start, double end, const char *text)
{
    sotto_segment s;
    memset(&s, 0, sizeof s);
    s.start = start;
    s.end = end;
    s.text = (char *)text;
    s.speaker = -1;
    return s;
}

static void add(sotto_transcript *t, double start, double end, const char *text)
{
    sotto_segment s = seg_make(start, end, text);
    ASSERT_OK(sotto_transcript_append(t, &s));
}

/* Render t in format f; caller frees. */
static char *render(const sotto_transcript *t, sotto_format f)
{
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_OK(sotto_transcript_write(t, f, &b));
    return sotto_buf_steal(&b);
}

/* t written in format f is exactly want. */
static void assert_renders(const sotto_transcript *t, sotto_format f, const char *want)
{
    char *s = render(t, f);
    ASSERT_STR_EQ(s, want);
    free(s);
}

TEST(append_deep_copies_and_numbers)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    char text[] = " hello there";
    char name[] = "Alice";
    char w0[] = " hello", w1[] = " there";
    int32_t tokens[3] = {50364, 2425, 456};
    sotto_word words[2] = {{w0, 0.0, 0.4, 0.9f}, {w1, 0.5, 0.9, 0.8f}};
    sotto_segment s = seg_make(0.0, 1.0, text);
    s.id = 77;
    s.tokens = tokens;
    s.n_tokens = 3;
    s.words = words;
    s.n_words = 2;
    s.speaker = 1;
    s.speaker_name = name;
    ASSERT_OK(sotto_transcript_append(&t, &s));
    ASSERT_OK(sotto_transcript_append(&t, &s));
    /* scribbling over the originals must not reach the copies */
    text[1] = 'J';
    name[0] = 'B';
    w0[1] = 'J';
    tokens[0] = 1;
    ASSERT_EQ(t.n_segments, 2);
    ASSERT_EQ(t.segments[0].id, 0);
    ASSERT_EQ(t.segments[1].id, 1);
    ASSERT_STR_EQ(t.segments[1].text, " hello there");
    ASSERT_STR_EQ(t.segments[1].speaker_name, "Alice");
    ASSERT_STR_EQ(t.segments[1].words[0].word, " hello");
    ASSERT_EQ(t.segments[1].tokens[0], 50364);
    ASSERT_EQ(t.segments[1].n_words, 2);
    ASSERT_TRUE(t.segments[1].text != text && t.segments[1].words != words);
    for (int i = 0; i < 100; i++) /* grow past the first allocation */
        add(&t, i, i + 1, "x");
    ASSERT_EQ(t.n_segments, 102);
    ASSERT_EQ(t.segments[101].id, 101);
    for (int i = 0; i < 200; i++) /* appending its own segments while the array moves */
        ASSERT_OK(sotto_transcript_append(&t, &t.segments[1]));
    ASSERT_EQ(t.n_segments, 302);
    ASSERT_STR_EQ(t.segments[301].words[1].word, " there");
    sotto_transcript_free(&t);
    ASSERT_EQ(t.n_segments, 0);
    sotto_transcript_free(&t); /* reusable, and freeing twice is harmless */
    sotto_transcript_free(NULL);
    sotto_segment_clear(NULL);
}

TEST(take_moves_and_renumbers)
{
    sotto_transcript a, b;
    sotto_transcript_init(&a);
    sotto_transcript_init(&b);
    add(&a, 0, 1, "one");
    add(&b, 1, 2, "two");
    add(&b, 2, 3, "three");
    ASSERT_OK(sotto_transcript_take(&a, &b));
    ASSERT_EQ(a.n_segments, 3);
    ASSERT_EQ(b.n_segments, 0);
    ASSERT_TRUE(b.segments == NULL);
    ASSERT_EQ(a.segments[2].id, 2);
    ASSERT_STR_EQ(a.segments[2].text, "three");
    ASSERT_OK(sotto_transcript_take(&a, &b)); /* empty source: nothing to do */
    ASSERT_EQ(a.n_segments, 3);
    add(&b, 3, 4, "four"); /* the emptied source is usable again */
    ASSERT_EQ(b.segments[0].id, 0);
    sotto_transcript_free(&a);
    sotto_transcript_free(&b);
}

TEST(text_joins_trimmed_segments)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    char *s = sotto_transcript_text(&t);
    ASSERT_STR_EQ(s, "");
    free(s);
    add(&t, 0, 1, " Hello,");
    add(&t, 1, 2, "   ");
    add(&t, 2, 3, NULL);
    add(&t, 3, 4, " world.\n");
    s = sotto_transcript_text(&t);
    ASSERT_STR_EQ(s, "Hello, world.");
    free(s);
    sotto_transcript_free(&t);
}

TEST(format_parse_names_and_errors)
{
    unsigned mask = 99;
    ASSERT_OK(sotto_format_parse("txt,json,srt", &mask));
    ASSERT_EQ(mask, SOTTO_FORMAT_TXT | SOTTO_FORMAT_JSON | SOTTO_FORMAT_SRT);
    ASSERT_OK(sotto_format_parse(" VTT , tsv,vtt", &mask));
    ASSERT_EQ(mask, SOTTO_FORMAT_VTT | SOTTO_FORMAT_TSV);
    ASSERT_EQ(sotto_format_parse("txt,x", &mask), SOTTO_EINVAL);
    ASSERT_STR_EQ(sotto_last_error(), "unknown format 'x' (choose from txt, json, srt, vtt, tsv)");
    ASSERT_EQ(mask, 0);
    ASSERT_EQ(sotto_format_parse("", &mask), SOTTO_EINVAL);
    ASSERT_EQ(sotto_format_parse("txt,,json", &mask), SOTTO_EINVAL);
    ASSERT_EQ(sotto_format_parse("jsonx", &mask), SOTTO_EINVAL);
    ASSERT_STR_EQ(sotto_format_ext(SOTTO_FORMAT_TXT), "txt");
    ASSERT_STR_EQ(sotto_format_ext(SOTTO_FORMAT_JSON), "json");
    ASSERT_STR_EQ(sotto_format_ext(SOTTO_FORMAT_SRT), "srt");
    ASSERT_STR_EQ(sotto_format_ext(SOTTO_FORMAT_VTT), "vtt");
    ASSERT_STR_EQ(sotto_format_ext(SOTTO_FORMAT_TSV), "tsv");
    ASSERT_TRUE(sotto_format_ext((sotto_format)3) == NULL);
    sotto_transcript t;
    sotto_transcript_init(&t);
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_EQ(sotto_transcript_write(&t, (sotto_format)3, &b), SOTTO_EINVAL);
    sotto_buf_free(&b);
}

/* Two plain segments and an empty one in between. */
static void small_transcript(sotto_transcript *t)
{
    sotto_transcript_init(t);
    add(t, 0.0, 2.5, " Hello there.");
    add(t, 2.5, 3.0, "  ");
    add(t, 3.0, 5.25, " How are\tyou?\n");
}

TEST(txt_one_trimmed_line_per_segment)
{
    sotto_transcript t;
    small_transcript(&t);
    assert_renders(&t, SOTTO_FORMAT_TXT, "Hello there.\nHow are you?\n");
    sotto_transcript_free(&t);
}

TEST(tsv_integer_milliseconds_and_flattened_text)
{
    sotto_transcript t;
    small_transcript(&t);
    add(&t, 5.2496, 5.0, "backwards\r\nend");
    assert_renders(&t, SOTTO_FORMAT_TSV,
                   "start\tend\ttext\n"
                   "0\t2500\tHello there.\n"
                   "3000\t5250\tHow are you?\n"
                   "5250\t5250\tbackwards  end\n");
    sotto_transcript_free(&t);
}

TEST(srt_exact)
{
    sotto_transcript t;
    small_transcript(&t);
    add(&t, 3725.5, 3727.0004, "Later <i>on</i> & --> on");
    assert_renders(&t, SOTTO_FORMAT_SRT,
                   "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
                   "2\n00:00:03,000 --> 00:00:05,250\nHow are you?\n\n"
                   "3\n01:02:05,500 --> 01:02:07,000\nLater <i>on</i> & --> on\n\n");
    sotto_transcript_free(&t);
}

TEST(vtt_exact_with_escapes)
{
    sotto_transcript t;
    small_transcript(&t);
    add(&t, 3725.5, 3727.0006, "Later <i>on</i> & --> on");
    assert_renders(&t, SOTTO_FORMAT_VTT,
                   "WEBVTT\n\n"
                   "00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
                   "00:00:03.000 --> 00:00:05.250\nHow are you?\n\n"
                   "01:02:05.500 --> 01:02:07.001\n"
                   "Later &lt;i&gt;on&lt;/i&gt; &amp; --&gt; on\n\n");
    sotto_transcript_free(&t);
    /* an empty transcript is still a valid file */
    sotto_transcript_init(&t);
    assert_renders(&t, SOTTO_FORMAT_VTT, "WEBVTT\n\n");
}

TEST(subtitle_times_never_negative_or_backwards)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    add(&t, -0.3, 0.0004, "early");
    add(&t, 9.0, 8.0, "reversed");
    add(&t, NAN, INFINITY, "broken");
    assert_renders(&t, SOTTO_FORMAT_SRT,
                   "1\n00:00:00,000 --> 00:00:00,000\nearly\n\n"
                   "2\n00:00:09,000 --> 00:00:09,000\nreversed\n\n"
                   "3\n00:00:00,000 --> 00:00:00,000\nbroken\n\n");
    sotto_transcript_free(&t);
}

static const char *long_text = "The quick brown fox jumps over the lazy dog and then keeps "
                               "running through the dark forest until the night finally falls";

TEST(srt_long_segment_splits_by_characters)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    add(&t, 10.0, 22.0, long_text);
    /* 58 + 61 characters: the 12 s span splits at 12 * 58 / 119 = 5.849 s */
    assert_renders(&t, SOTTO_FORMAT_SRT,
                   "1\n00:00:10,000 --> 00:00:15,849\n"
                   "The quick brown fox jumps over\nthe lazy dog and then keeps\n\n"
                   "2\n00:00:15,849 --> 00:00:22,000\n"
                   "running through the dark forest\nuntil the night finally falls\n\n");
    sotto_transcript_free(&t);
}

TEST(vtt_long_segment_uses_word_times)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    /* split the text into words with times 0.5 s apart, 0.4 s long */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", long_text);
    sotto_word words[32];
    size_t n = 0;
    for (char *p = buf; *p;) {
        char *e = p;
        while (*e && *e != ' ')
            e++;
        int last = *e == '\0';
        *e = '\0';
        words[n] = (sotto_word){p, 10.0 + 0.5 * (double)n, 10.4 + 0.5 * (double)n, 0.9f};
        n++;
        p = last ? e : e + 1;
    }
    ASSERT_EQ(n, 22);
    sotto_segment seg = seg_make(9.0, 22.0, long_text);
    seg.words = words;
    seg.n_words = n;
    ASSERT_OK(sotto_transcript_append(&t, &seg));
    assert_renders(&t, SOTTO_FORMAT_VTT,
                   "WEBVTT\n\n"
                   "00:00:10.000 --> 00:00:15.900\n"
                   "The quick brown fox jumps over\nthe lazy dog and then keeps\n\n"
                   "00:00:16.000 --> 00:00:20.900\n"
                   "running through the dark forest\nuntil the night finally falls\n\n");
    /* words that do not match the text one-to-one fall back to character shares */
    t.segments[0].n_words = 3;
    char *s = render(&t, SOTTO_FORMAT_VTT);
    ASSERT_STR_CONTAINS(s, "00:00:09.000 --> 00:00:15.336\n");
    free(s);
    t.segments[0].n_words = n; /* so free releases every copied word */
    sotto_transcript_free(&t);
}

/* Check every cue of an SRT: <= 2 lines, lines <= 42 code points unless one word, and
 * the words, read back in order, are the segment's words. */
static void check_cue_layout(const char *srt, const char *text)
{
    char words[4096] = "";
    size_t wl = 0;
    const char *p = srt;
    while (*p) {
        p = strchr(p, '\n') + 1; /* cue number */
        p = strchr(p, '\n') + 1; /* timing */
        int lines = 0;
        while (*p && *p != '\n') {
            const char *e = strchr(p, '\n');
            size_t chars = 0;
            int spaces = 0;
            for (const char *q = p; q < e; q++) {
                chars += ((unsigned char)*q & 0xC0) != 0x80;
                spaces += *q == ' ';
            }
            if (chars > 42 && spaces > 0)
                CHECK_FAIL("line of %zu chars: %.*s", chars, (int)(e - p), p);
            ASSERT_TRUE(e > p && p[0] != ' ' && e[-1] != ' ');
            if (wl)
                words[wl++] = ' ';
            memcpy(words + wl, p, (size_t)(e - p));
            wl += (size_t)(e - p);
            words[wl] = '\0';
            lines++;
            p = e + 1;
        }
        ASSERT_TRUE(lines >= 1 && lines <= 2);
        p++; /* blank line */
    }
    ASSERT_STR_EQ(words, text);
}

TEST(long_words_stay_whole_and_lines_stay_short)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    const char *text = "a Pneumonoultramicroscopicsilicovolcanoconiosis-and-more-hyphens "
                       "word caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 "
                       "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 end of the line here we go again "
                       "and again and again and again until the cue is full";
    add(&t, 0, 30, text);
    char *s = render(&t, SOTTO_FORMAT_SRT);
    check_cue_layout(s, text);
    ASSERT_STR_CONTAINS(s, "\nPneumonoultramicroscopicsilicovolcanoconiosis-and-more-hyphens\n");
    free(s);
    sotto_transcript_free(&t);

    /* 46 bytes but 39 characters: line length counts characters, so one line */
    sotto_transcript_init(&t);
    add(&t, 0, 1,
        "word caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 "
        "caf\xc3\xa9 caf\xc3\xa9");
    assert_renders(&t, SOTTO_FORMAT_SRT,
                   "1\n00:00:00,000 --> 00:00:01,000\nword caf\xc3\xa9 caf\xc3\xa9 "
                   "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9\n\n");
    sotto_transcript_free(&t);
}

TEST(json_exact_small)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    memcpy(t.language, "en", 3);
    t.duration = 4.0;
    int32_t tokens[2] = {50364, 2425};
    sotto_word words[2] = {{" Hi", 0.0, 0.5, 0.91234f}, {" \"you\"", 0.5, 1.25, 0.5f}};
    sotto_segment s = seg_make(0.0, 1.25, " Hi \"you\"");
    s.tokens = tokens;
    s.n_tokens = 2;
    s.avg_logprob = -0.25f;
    s.no_speech_prob = 0.01f;
    s.compression_ratio = 1.5f;
    s.confidence = 0.75f;
    s.words = words;
    s.n_words = 2;
    s.speaker = 0;
    s.speaker_name = "Ann";
    ASSERT_OK(sotto_transcript_append(&t, &s));
    s = seg_make(1.5, 3.0004, " Bye.");
    s.temperature = 0.2f;
    ASSERT_OK(sotto_transcript_append(&t, &s));
    char *j = render(&t, SOTTO_FORMAT_JSON);
    ASSERT_STR_EQ(j, "{\"text\":\"Hi \\\"you\\\" Bye.\",\"language\":\"en\",\"duration\":4,"
                     "\"segments\":["
                     "{\"id\":0,\"start\":0,\"end\":1.25,\"text\":\" Hi \\\"you\\\"\","
                     "\"tokens\":[50364,2425],\"avg_logprob\":-0.25,\"no_speech_prob\":0.01,"
                     "\"compression_ratio\":1.5,\"temperature\":0,\"confidence\":0.75,"
                     "\"speaker\":0,\"speaker_name\":\"Ann\",\"words\":["
                     "{\"word\":\" Hi\",\"start\":0,\"end\":0.5,\"probability\":0.9123},"
                     "{\"word\":\" \\\"you\\\"\",\"start\":0.5,\"end\":1.25,\"probability\":0.5}"
                     "]},"
                     "{\"id\":1,\"start\":1.5,\"end\":3,\"text\":\" Bye.\",\"tokens\":[],"
                     "\"avg_logprob\":0,\"no_speech_prob\":0,\"compression_ratio\":0,"
                     "\"temperature\":0.2,\"confidence\":0}"
                     "]}\n");
    free(j);
    sotto_transcript_free(&t);
}

/* Feed s to Python's json parser plus a structural check; returns its exit status. */
static int python_json_check(const char *s, const char *check)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); %s'",
             check);
    FILE *f = popen(cmd, "w");
    ASSERT_TRUE(f != NULL);
    fputs(s, f);
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(json_is_valid_for_hostile_text)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    memset(t.language, 'x', sizeof t.language); /* unterminated on purpose */
    t.duration = NAN;
    char w[] = "\x01\x7f\\\"\n\t";
    sotto_word words[1] = {{w, -1.0, INFINITY, NAN}};
    sotto_segment s = seg_make(0.0, 1.0,
                               "quote \" backslash \\ ctrl \x02 bad \xff\xfe utf8 "
                               "caf\xc3\xa9 \xf0\x9f\x8e\xa4 </script>");
    s.words = words;
    s.n_words = 1;
    s.speaker_name = "O'Brien \"Bob\"";
    ASSERT_OK(sotto_transcript_append(&t, &s));
    add(&t, 1, 2, NULL);
    char *j = render(&t, SOTTO_FORMAT_JSON);
    int rc = python_json_check(
        j,
        "s=d[\"segments\"]; assert len(s)==2; assert s[0][\"words\"][0][\"word\"]==\"\\x01"
        "\\x7f\\\\\\\"\\n\\t\"; assert \"\\U0001F3A4\" in s[0][\"text\"]; "
        "assert d[\"duration\"] is None; assert s[1][\"text\"]==\"\"; "
        "assert \"speaker\" not in s[0] and s[0][\"speaker_name\"]==\"O\\x27Brien \\\"Bob\\\"\"");
    if (rc != 0)
        CHECK_FAIL("python rejected (status %d):\n%s", rc, j);
    free(j);
    sotto_transcript_free(&t);
}

TEST(write_fails_cleanly_at_the_buffer_cap)
{
    sotto_transcript t;
    small_transcript(&t);
    for (int f = SOTTO_FORMAT_TXT; f <= SOTTO_FORMAT_TSV; f <<= 1) {
        sotto_buf b;
        sotto_buf_init(&b, 20);
        ASSERT_EQ(sotto_transcript_write(&t, (sotto_format)f, &b), SOTTO_ENOMEM);
        ASSERT_TRUE(b.len <= 20);
        sotto_buf_free(&b);
    }
    sotto_transcript_free(&t);
}

TEST(srt_prefers_breaks_after_clauses)
{
    sotto_transcript t;
    sotto_transcript_init(&t);
    add(&t, 2.0, 9.5,
        " Today we look at the budget for next year, the hiring plan & the new "
        "office in Rotterdam.");
    /* 42 + 46 characters: the first cue ends at the comma (7.5 s * 42 / 88 = 3.580 s) */
    assert_renders(&t, SOTTO_FORMAT_SRT,
                   "1\n00:00:02,000 --> 00:00:05,580\n"
                   "Today we look at the budget for next year,\n\n"
                   "2\n00:00:05,580 --> 00:00:09,500\n"
                   "the hiring plan & the\nnew office in Rotterdam.\n\n");
    sotto_transcript_free(&t);
}
