/*
 * ws_client.c - a WebSocket client for /v1/listen tests and benchmarks (CivetWeb's
 * mg_connect_websocket_client, so a real handshake, real masking and real frames).
 *
 *   ws_client --url ws://127.0.0.1:PORT/v1/listen?api_key=K [--realtime] [--chunk-ms 40]
 *             [--streams N] [--stop | --drop-after SEC] [--start JSON] [--no-start]
 *             [--format s16le|f32le] [--send-rate HZ] [--inject text:STR|bin:N]...
 *             [--timeout SEC] [--msgpack] [--show-frames] [--offsets S0,S1,...] FILE
 *
 * Each stream sends {"type":"start", ...the --start members} (unless --no-start), waits
 * for "ready", then sends FILE (any format sotto reads, as 16 kHz mono) in chunk-ms
 * frames, paced like live audio with --realtime. --inject sends a frame after ready and
 * before the audio (malformed-input tests). At the end it sends {"type":"stop"} and
 * waits for the server to close (default), or with --drop-after closes the connection
 * abruptly after SEC seconds of audio. Every event received is printed on stdout as one
 * JSON line with "stream" and "wall" (seconds since the stream's ready) added in front.
 * --msgpack adds encoding=msgpack to the URL's query (a start message may ask for it
 * too). Binary frames from the server are MessagePack events: they are decoded (strictly:
 * well-formed, every value in its smallest form as the server writes it, valid UTF-8, no
 * trailing bytes) and printed as the same JSON lines; a frame that does not decode prints
 * {"type":"invalid_msgpack"} and fails the run. --show-frames adds "frame":"binary" or
 * "frame":"text" after "wall", so a test can check which frames came.
 * --offsets makes concurrent streams independent talkers instead of one chorus: stream i
 * sends FILE rotated to begin S(i mod count) seconds in (the part before that follows at
 * the end), so their speech and pauses fall at different times (benchmarks cut at pauses).
 * Exit status: 0 when every stream ended as asked, 1 on a connection error, 2 on timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "base/json_int.h"
#include "sotto/audio.h"
#include "sotto/buf.h"
#include "sotto/sotto.h"

#define MAX_INJECT 16
#define MAX_OFFSETS 64

static struct {
    char host[256], path[4096];
    int port;
    int realtime, chunk_ms, n_streams, no_start, f32, send_rate, msgpack, show_frames;
    double drop_after, timeout;
    const char *start_json, *file;
    const char *inject[MAX_INJECT];
    int n_inject;
    double offsets[MAX_OFFSETS]; /* --offsets: seconds each stream's audio is rotated by */
    int n_offsets;
    unsigned char *bytes; /* the whole file in the wire format */
    size_t n_bytes, bytes_per_s;
} G;

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct client {
    int index;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, closed, done, bad_frames;
    double t0; /* wall clock at ready */
    int rc;
    unsigned char *bytes; /* what this stream sends: G.bytes or its rotated copy (owned) */
} client;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void print_line(int stream, double wall, const char *frame, const char *json, size_t len)
{
    pthread_mutex_lock(&out_mu);
    printf("{\"stream\":%d,\"wall\":%.3f", stream, wall);
    if (G.show_frames && frame)
        printf(",\"frame\":\"%s\"", frame);
    if (len > 1 && json[0] == '{') {
        if (json[1] != '}')
            putchar(',');
        fwrite(json + 1, 1, len - 1, stdout);
    } else {
        printf(",\"raw\":\"(%zu bytes)\"}", len);
    }
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

/* ---- MessagePack to JSON ----------------------------------------------------------------- */
typedef struct mp_in {
    const unsigned char *p;
    size_t n, off;
    const char *err;
} mp_in;

static int mp_fail(mp_in *r, const char *why)
{
    if (!r->err)
        r->err = why;
    return -1;
}

/* k big-endian bytes (k <= 8) */
static int mp_be(mp_in *r, size_t k, uint64_t *v)
{
    if (k > r->n - r->off)
        return mp_fail(r, "truncated");
    uint64_t x = 0;
    for (size_t i = 0; i < k; i++)
        x = x << 8 | r->p[r->off + i];
    r->off += k;
    *v = x;
    return 0;
}

static int json_str_out(sotto_buf *o, const unsigned char *s, size_t n)
{
    int rc = sotto_buf_putc(o, '"');
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char ch = s[i];
        if (ch == '"' || ch == '\\')
            rc = sotto_buf_printf(o, "\\%c", ch);
        else if (ch < 0x20)
            rc = sotto_buf_printf(o, "\\u%04x", ch);
        else
            rc = sotto_buf_putc(o, (char)ch);
    }
    return rc ? rc : sotto_buf_putc(o, '"');
}

/* One value as JSON. Lengths are checked against the bytes left before anything is read
 * or allocated; the server writes every value in its smallest form, so a longer one is
 * reported as a server bug rather than passed over. */
static int mp_value(mp_in *r, sotto_buf *o, int depth)
{
    uint64_t t, v;
    if (depth > 16)
        return mp_fail(r, "nested too deeply");
    if (mp_be(r, 1, &t))
        return -1;
    uint64_t len;
    int map;
    if (t <= 0x7f)
        return sotto_buf_printf(o, "%d", (int)t);
    if (t >= 0xe0)
        return sotto_buf_printf(o, "%d", (int)t - 256);
    if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb) {
        if ((t & 0xe0) == 0xa0)
            len = t & 0x1f;
        else if (mp_be(r, (size_t)1 << (t - 0xd9), &len))
            return -1;
        else if (len < (t == 0xd9 ? 32u : t == 0xda ? 256u : 65536u))
            return mp_fail(r, "str not in its smallest form");
        if (len > r->n - r->off)
            return mp_fail(r, "truncated str");
        if (!json_utf8_valid((const char *)r->p + r->off, (size_t)len))
            return mp_fail(r, "str is not valid UTF-8");
        r->off += (size_t)len;
        return json_str_out(o, r->p + r->off - len, (size_t)len);
    }
    if ((t & 0xe0) == 0x80 || (t >= 0xdc && t <= 0xdf)) {
        map = (t & 0xf0) == 0x80 || t >= 0xde;
        if (t < 0xa0)
            len = t & 0x0f;
        else if (mp_be(r, (t & 1) ? 4 : 2, &len))
            return -1;
        else if (len < ((t & 1) ? 65536u : 16u))
            return mp_fail(r, "array/map not in its smallest form");
        if (len > (r->n - r->off) / (map ? 2 : 1))
            return mp_fail(r, "array/map longer than the frame"); /* a value takes >= 1 byte */
        int rc = sotto_buf_putc(o, map ? '{' : '[');
        for (uint64_t i = 0; i < len && !rc; i++) {
            if (i)
                rc = sotto_buf_putc(o, ',');
            if (!rc && map) {
                if (r->off >= r->n || !((r->p[r->off] & 0xe0) == 0xa0 || (r->p[r->off] >= 0xd9 && r->p[r->off] <= 0xdb)))
                    return mp_fail(r, "map key is not a str");
                rc = mp_value(r, o, depth + 1);
                if (!rc)
                    rc = sotto_buf_putc(o, ':');
            }
            if (!rc)
                rc = mp_value(r, o, depth + 1);
        }
        return rc ? rc : sotto_buf_putc(o, map ? '}' : ']');
    }
    switch (t) {
    case 0xc0: return sotto_buf_puts(o, "null");
    case 0xc2: return sotto_buf_puts(o, "false");
    case 0xc3: return sotto_buf_puts(o, "true");
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {
        static const uint64_t lo[] = {0x80, 0x100, 0x10000, 0x100000000ull};
        if (mp_be(r, (size_t)1 << (t - 0xcc), &v))
            return -1;
        if (v < lo[t - 0xcc])
            return mp_fail(r, "uint not in its smallest form");
        return sotto_buf_printf(o, "%llu", (unsigned long long)v);
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        static const int64_t hi[] = {-33, INT8_MIN - 1, INT16_MIN - 1, (int64_t)INT32_MIN - 1};
        size_t k = (size_t)1 << (t - 0xd0);
        if (mp_be(r, k, &v))
            return -1;
        /* sign-extend k bytes */
        int64_t x = k == 8 ? (int64_t)v : (int64_t)(v ^ ((uint64_t)1 << (8 * k - 1))) - ((int64_t)1 << (8 * k - 1));
        if (x > hi[t - 0xd0])
            return mp_fail(r, "int not in its smallest form");
        return sotto_buf_printf(o, "%lld", (long long)x);
    }
    case 0xca: case 0xcb: {
        double d;
        if (mp_be(r, t == 0xca ? 4 : 8, &v))
            return -1;
        if (t == 0xca) {
            uint32_t u = (uint32_t)v;
            float f;
            memcpy(&f, &u, 4);
            d = f;
        } else {
            memcpy(&d, &v, 8);
        }
        return isfinite(d) ? sotto_buf_printf(o, "%.17g", d) : sotto_buf_puts(o, "null");
    }
    default:
        return mp_fail(r, "bin, ext or a reserved type byte (no JSON form)");
    }
}

/* A whole binary frame as one JSON object; NULL (and *err) when it is not valid msgpack. */
static char *mp_to_json(const char *data, size_t len, size_t *out_len, const char **err)
{
    mp_in r = {(const unsigned char *)data, len, 0, NULL};
    sotto_buf o = SOTTO_BUF_INIT;
    sotto_buf_init(&o, (size_t)64 << 20);
    int rc = len && ((r.p[0] & 0xf0) == 0x80 || r.p[0] == 0xde || r.p[0] == 0xdf) ? mp_value(&r, &o, 0)
                                                                                     : mp_fail(&r, "not a map");
    if (!rc && r.off != r.n)
        rc = mp_fail(&r, "trailing bytes after the map");
    if (rc) {
        *err = r.err ? r.err : "output too large";
        sotto_buf_free(&o);
        return NULL;
    }
    *out_len = o.len;
    return sotto_buf_steal(&o);
}

static int on_data(struct mg_connection *conn, int bits, char *data, size_t len, void *user)
{
    (void)conn;
    client *c = user;
    int op = bits & 0x0f;
    if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) {
        char buf[160];
        int code = len >= 2 ? ((unsigned char)data[0] << 8 | (unsigned char)data[1]) : 0;
        int n = snprintf(buf, sizeof buf, "{\"type\":\"close\",\"code\":%d}", code);
        pthread_mutex_lock(&c->mu);
        double t0 = c->t0;
        pthread_mutex_unlock(&c->mu);
        print_line(c->index, t0 > 0 ? now_s() - t0 : 0, NULL, buf, (size_t)n);
        return 0;
    }
    char *text;
    const char *frame = op == MG_WEBSOCKET_OPCODE_TEXT ? "text" : "binary";
    if (op == MG_WEBSOCKET_OPCODE_BINARY) {
        const char *err = NULL;
        text = mp_to_json(data, len, &len, &err);
        if (!text) {
            char line[200];
            int n = snprintf(line, sizeof line, "{\"type\":\"invalid_msgpack\",\"error\":\"%s\",\"bytes\":%zu}",
                             err, len);
            pthread_mutex_lock(&c->mu);
            c->bad_frames++;
            double t0 = c->t0;
            pthread_mutex_unlock(&c->mu);
            print_line(c->index, t0 > 0 ? now_s() - t0 : 0, frame, line, (size_t)n);
            return 1;
        }
    } else if (op == MG_WEBSOCKET_OPCODE_TEXT) {
        text = malloc(len + 1); /* frames are not NUL-terminated */
        if (!text)
            return 0;
        memcpy(text, data, len);
        text[len] = '\0';
    } else {
        return 1; /* ping/pong */
    }
    pthread_mutex_lock(&c->mu);
    int is_ready = !c->ready && strstr(text, "\"type\":\"ready\"");
    if (is_ready) {
        c->ready = 1;
        c->t0 = now_s();
    }
    if (strstr(text, "\"type\":\"done\"") || (strstr(text, "\"type\":\"error\"") && !c->ready))
        c->done = 1;
    double t0 = c->t0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    print_line(c->index, t0 > 0 ? now_s() - t0 : 0, frame, text, len);
    free(text);
    return 1;
}

static void on_close(const struct mg_connection *conn, void *user)
{
    (void)conn;
    client *c = user;
    pthread_mutex_lock(&c->mu);
    c->closed = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Wait until *flag or the deadline; 1 when the flag is set. */
static int wait_flag(client *c, int *flag, double until)
{
    pthread_mutex_lock(&c->mu);
    while (!*flag && !c->closed && now_s() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    int ok = *flag;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

static void send_inject(struct mg_connection *conn, const char *spec)
{
    if (!strncmp(spec, "text:", 5)) {
        mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_TEXT, spec + 5, strlen(spec + 5));
    } else if (!strncmp(spec, "bin:", 4)) {
        long n = strtol(spec + 4, NULL, 10);
        if (n < 0 || n > (64L << 20))
            return;
        char *z = calloc(1, (size_t)n + 1);
        if (z) {
            mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_BINARY, z, (size_t)n);
            free(z);
        }
    }
}

static void *run_stream(void *arg)
{
    client *c = arg;
    char err[256] = "";
    struct mg_connection *conn = mg_connect_websocket_client(G.host, G.port, 0, err, sizeof err, G.path,
                                                             NULL, on_data, on_close, c);
    if (!conn) {
        fprintf(stderr, "ws_client: stream %d: cannot connect: %s\n", c->index, err);
        c->rc = 1;
        return NULL;
    }
    double t_connect = now_s();
    if (!G.no_start) {
        char msg[8192];
        const char *extra = G.start_json ? G.start_json : "{}";
        while (*extra == ' ')
            extra++;
        int n = *extra == '{' && extra[1] != '}' && extra[1]
                    ? snprintf(msg, sizeof msg, "{\"type\":\"start\",%s", extra + 1)
                    : snprintf(msg, sizeof msg, "{\"type\":\"start\"}");
        mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_TEXT, msg, (size_t)n);
        if (!wait_flag(c, &c->ready, t_connect + 60)) {
            fprintf(stderr, "ws_client: stream %d: no ready event\n", c->index);
            c->rc = c->closed || c->done ? 0 : 2;
            mg_close_connection(conn);
            return NULL;
        }
    } else {
        pthread_mutex_lock(&c->mu);
        c->t0 = now_s();
        pthread_mutex_unlock(&c->mu);
    }
    for (int i = 0; i < G.n_inject; i++)
        send_inject(conn, G.inject[i]);
    size_t frame = G.bytes_per_s * (size_t)G.chunk_ms / 1000;
    size_t align = G.f32 ? 4 : 2;
    frame -= frame % align;
    if (frame == 0)
        frame = align;
    double t0 = now_s();
    size_t drop_at = G.drop_after > 0 ? (size_t)(G.drop_after * (double)G.bytes_per_s) : (size_t)-1;
    drop_at -= drop_at % align;
    int dropped = 0;
    for (size_t off = 0, k = 0; off < G.n_bytes; off += frame, k++) {
        if (G.realtime)
            sleep_until(t0 + (double)k * G.chunk_ms / 1000.0);
        pthread_mutex_lock(&c->mu);
        int closed = c->closed;
        pthread_mutex_unlock(&c->mu);
        if (closed)
            break;
        size_t n = G.n_bytes - off < frame ? G.n_bytes - off : frame;
        if (off + n > drop_at)
            n = drop_at > off ? drop_at - off : 0;
        if (n && mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_BINARY, (const char *)c->bytes + off, n) <= 0) {
            pthread_mutex_lock(&c->mu);
            c->closed = 1; /* the server went away */
            pthread_mutex_unlock(&c->mu);
            break;
        }
        if (off + n >= drop_at) {
            dropped = 1;
            break;
        }
    }
    if (dropped) {
        char line[96];
        int n = snprintf(line, sizeof line, "{\"type\":\"client_drop\",\"sent_s\":%.3f}", G.drop_after);
        print_line(c->index, now_s() - c->t0, NULL, line, (size_t)n);
        mg_close_connection(conn);
        return NULL;
    }
    mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_TEXT, "{\"type\":\"stop\"}", 15);
    int ok = wait_flag(c, &c->done, now_s() + G.timeout);
    wait_flag(c, &c->closed, now_s() + 5);
    if (!ok) {
        fprintf(stderr, "ws_client: stream %d: no 'done' within %.0f s\n", c->index, G.timeout);
        c->rc = 2;
    }
    mg_close_connection(conn);
    return NULL;
}

static int parse_url(const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (!colon || !slash || colon > slash || (size_t)(colon - h) >= sizeof G.host)
        return -1;
    memcpy(G.host, h, (size_t)(colon - h));
    G.host[colon - h] = '\0';
    G.port = (int)strtol(colon + 1, NULL, 10);
    snprintf(G.path, sizeof G.path, "%s", slash);
    return G.port > 0 ? 0 : -1;
}

/* The file as 16 kHz floats, then at send_rate (linear interpolation: upsampling only
 * needs no anti-alias filter; downsampling below 16 kHz is refused) in the wire format. */
static int load_audio(void)
{
    float *pcm;
    size_t n;
    if (sotto_audio_load(G.file, NULL, &pcm, &n) != 0) {
        fprintf(stderr, "ws_client: %s\n", sotto_last_error());
        return -1;
    }
    double ratio = (double)G.send_rate / 16000.0;
    size_t m = (size_t)floor((double)n * ratio);
    size_t bps = G.f32 ? 4 : 2;
    G.bytes = malloc(m * bps + 1);
    if (!G.bytes) {
        free(pcm);
        return -1;
    }
    for (size_t i = 0; i < m; i++) {
        double x = (double)i / ratio;
        size_t j = (size_t)x;
        double f = x - (double)j;
        double v = j + 1 < n ? pcm[j] * (1 - f) + pcm[j + 1] * f : pcm[n - 1];
        if (G.f32) {
            float fv = (float)v;
            memcpy(G.bytes + 4 * i, &fv, 4);
        } else {
            long s = lrint(v * 32767.0);
            s = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
            G.bytes[2 * i] = (unsigned char)(s & 0xff);
            G.bytes[2 * i + 1] = (unsigned char)((s >> 8) & 0xff);
        }
    }
    G.n_bytes = m * bps;
    G.bytes_per_s = (size_t)G.send_rate * bps;
    free(pcm);
    return 0;
}

/* "S0,S1,..." into G.offsets; -1 on anything but non-negative numbers */
static int parse_offsets(const char *list)
{
    const char *p = list;
    while (*p) {
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0) || G.n_offsets == MAX_OFFSETS || (*end && *end != ','))
            return -1;
        G.offsets[G.n_offsets++] = v;
        p = *end ? end + 1 : end;
    }
    return G.n_offsets > 0 ? 0 : -1;
}

/* Stream i's audio: FILE rotated by its offset (a copy it owns), or G.bytes itself. */
static int stream_bytes(client *c)
{
    size_t align = G.f32 ? 4 : 2;
    size_t at = 0;
    if (G.n_offsets > 0 && G.n_bytes > 0) {
        at = (size_t)(G.offsets[c->index % G.n_offsets] * (double)G.bytes_per_s) % G.n_bytes;
        at -= at % align;
    }
    if (at == 0) {
        c->bytes = G.bytes;
        return 0;
    }
    c->bytes = malloc(G.n_bytes);
    if (!c->bytes)
        return -1;
    memcpy(c->bytes, G.bytes + at, G.n_bytes - at);
    memcpy(c->bytes + (G.n_bytes - at), G.bytes, at);
    return 0;
}

int main(int argc, char **argv)
{
    G.chunk_ms = 40;
    G.n_streams = 1;
    G.send_rate = 16000;
    G.timeout = 120;
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--url") && more)
            url = argv[++i];
        else if (!strcmp(a, "--realtime"))
            G.realtime = 1;
        else if (!strcmp(a, "--chunk-ms") && more)
            G.chunk_ms = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--streams") && more)
            G.n_streams = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--stop"))
            G.drop_after = 0;
        else if (!strcmp(a, "--drop-after") && more)
            G.drop_after = strtod(argv[++i], NULL);
        else if (!strcmp(a, "--start") && more)
            G.start_json = argv[++i];
        else if (!strcmp(a, "--no-start"))
            G.no_start = 1;
        else if (!strcmp(a, "--format") && more)
            G.f32 = !strcmp(argv[++i], "f32le");
        else if (!strcmp(a, "--send-rate") && more)
            G.send_rate = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--timeout") && more)
            G.timeout = strtod(argv[++i], NULL);
        else if (!strcmp(a, "--msgpack"))
            G.msgpack = 1;
        else if (!strcmp(a, "--show-frames"))
            G.show_frames = 1;
        else if (!strcmp(a, "--offsets") && more) {
            if (parse_offsets(argv[++i]) != 0) {
                fprintf(stderr, "ws_client: --offsets wants up to %d non-negative seconds, comma-separated\n",
                        MAX_OFFSETS);
                return 1;
            }
        } else if (!strcmp(a, "--inject") && more && G.n_inject < MAX_INJECT)
            G.inject[G.n_inject++] = argv[++i];
        else if (a[0] != '-' && !G.file)
            G.file = a;
        else {
            fprintf(stderr, "ws_client: unknown or incomplete option '%s'\n", a);
            return 1;
        }
    }
    if (!url || !G.file || parse_url(url) != 0 || G.chunk_ms < 1 || G.n_streams < 1 ||
        G.n_streams > 512 || G.send_rate < 16000 || G.send_rate > 384000) {
        fprintf(stderr, "usage: ws_client --url ws://HOST:PORT/PATH [--realtime] [--chunk-ms MS] "
                        "[--streams N] [--stop|--drop-after SEC] [--start JSON] [--no-start] "
                        "[--format s16le|f32le] [--send-rate HZ>=16000] [--inject text:S|bin:N] "
                        "[--timeout SEC] [--msgpack] [--show-frames] [--offsets S0,S1,...] FILE\n");
        return 1;
    }
    if (G.msgpack) {
        size_t n = strlen(G.path);
        int w = snprintf(G.path + n, sizeof G.path - n, "%sencoding=msgpack", strchr(G.path, '?') ? "&" : "?");
        if (w < 0 || (size_t)w >= sizeof G.path - n) {
            fprintf(stderr, "ws_client: URL too long\n");
            return 1;
        }
    }
    if (load_audio() != 0)
        return 1;
    mg_init_library(0);
    client *cs = calloc((size_t)G.n_streams, sizeof *cs);
    pthread_t *th = calloc((size_t)G.n_streams, sizeof *th);
    if (!cs || !th)
        return 1;
    for (int i = 0; i < G.n_streams; i++) {
        cs[i].index = i;
        if (stream_bytes(&cs[i]) != 0)
            return 1;
        pthread_mutex_init(&cs[i].mu, NULL);
        pthread_cond_init(&cs[i].cv, NULL);
        pthread_create(&th[i], NULL, run_stream, &cs[i]);
    }
    int rc = 0;
    for (int i = 0; i < G.n_streams; i++) {
        pthread_join(th[i], NULL);
        if (cs[i].rc > rc)
            rc = cs[i].rc;
        if (cs[i].bad_frames && rc == 0)
            rc = 1;
    }
    mg_exit_library();
    for (int i = 0; i < G.n_streams; i++)
        if (cs[i].bytes != G.bytes)
            free(cs[i].bytes);
    free(cs);
    free(th);
    free(G.bytes);
    return rc;
}
