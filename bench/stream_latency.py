#!/usr/bin/python3
"""stream_latency.py - figures for bench/stream_latency.sh from ws_client event lines.

  stream_latency.py single  PLACEMENT.json EVENTS.jsonl [LABEL]   [--cpu-s S] [--client-cpu-s S] [--cores N]
  stream_latency.py multi   PLACEMENT.json EVENTS.jsonl           [--cpu-s S] [--client-cpu-s S] [--cores N]
                                                                  [--offsets S0,S1,...]
  stream_latency.py offsets PLACEMENT.json N
  stream_latency.py whisper AUDIO_S EVENTS.jsonl [LABEL]           [--cpu-s S] [--cores N]

--cpu-s: the server's CPU seconds (user+sys) during the run; with it the output adds
cpu_s_per_audio_s (per stream) and capacity_streams (cores / that cost), which unlike RTF
do not depend on what else runs on the machine. `whisper`: random-weight models give
garbage text, so only latency against the hypothesis' own word times, RTF and stats.

PLACEMENT.json: {"duration": s, "utterances": [{"start": s, "text": "...",
"words": [{"word", "start", "end"}]}]} where word times are from batch recognition of the
clean utterance, relative to the utterance (the reference word end is start + end).

Word latency (computation-aware, audio sent in real time): hypothesis words of finals are
aligned to reference words (word-level Levenshtein over normalized words; copy and
substitution pairs kept); latency = max(0, wall time the final arrived - reference word
end). First-partial latency: per utterance, the first event with text after the
utterance's start, minus the end of its first reference word. Normalized erasure: words
deleted from the displayed text (committed finals + current partial) summed over events,
divided by the number of final words.

`offsets` prints N comma-separated rotation points, all in pauses (0 and two points in
every pause between utterances, at its thirds), for ws_client --offsets: concurrent
streams then talk at different times, like independent speakers. `multi --offsets` takes
the same list and scores stream i against the placement rotated by offset i mod count.
"""
import json
import re
import sys


def norm(w):
    return re.sub(r"[^a-z0-9']", "", w.lower())


def align(hyp, ref):
    """Levenshtein alignment; returns (i_hyp, j_ref) pairs of copies/substitutions."""
    n, m = len(hyp), len(ref)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (0 if hyp[i - 1] == ref[j - 1] else 1))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if d[i][j] == d[i - 1][j - 1] + (0 if hyp[i - 1] == ref[j - 1] else 1):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    pairs.reverse()
    errors = d[n][m]
    return pairs, errors


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ref_words(placement):
    out = []
    for u in placement["utterances"]:
        for w in u["words"]:
            if norm(w["word"]):
                out.append((norm(w["word"]), u["start"] + w["end"]))
    return out


def rotated(placement, off):
    """The placement of the stream rotated to begin `off` s in (a cut inside a pause)."""
    d = placement["duration"]
    us = [dict(u, start=(u["start"] - off) % d) for u in placement["utterances"]]
    return dict(placement, utterances=sorted(us, key=lambda u: u["start"]))


def rotation_points(placement, n):
    us = placement["utterances"]
    pts = [0.0]
    for a, b in zip(us, us[1:]):
        end, nxt = a["start"] + a["duration"], b["start"]
        pts += [end + (nxt - end) / 3, end + 2 * (nxt - end) / 3]
    return [pts[i % len(pts)] for i in range(n)]


def analyse(placement, events):
    ref = ref_words(placement)
    finals = [e for e in events if e["type"] == "final"]
    hyp = []  # (word, wall)
    for f in finals:
        for w in (f.get("words") or [{"word": x} for x in f["text"].split()]):
            if norm(w["word"]):
                hyp.append((norm(w["word"]), f["wall"]))
    pairs, errors = align([h[0] for h in hyp], [r[0] for r in ref])
    lat = [max(0.0, hyp[i][1] - ref[j][1]) for i, j in pairs]
    # first-partial latency per utterance
    first = []
    texts = [e for e in events if e["type"] in ("partial", "final") and e.get("text")]
    for u in placement["utterances"]:
        ws = [w for w in u["words"] if norm(w["word"])]
        if not ws:
            continue
        t_word = u["start"] + ws[0]["end"]
        cand = [e["wall"] for e in texts if e["wall"] >= u["start"] and e["end"] >= u["start"] - 0.5]
        if cand:
            first.append(max(0.0, min(cand) - t_word))
    # normalized erasure over the displayed text
    committed, prev, erased = [], [], 0
    for e in events:
        if e["type"] == "final":
            committed = committed + e["text"].split()
            shown = committed
        elif e["type"] == "partial":
            shown = committed + e["text"].split()
        else:
            continue
        k = 0
        while k < min(len(prev), len(shown)) and prev[k] == shown[k]:
            k += 1
        erased += len(prev) - k
        prev = shown
    n_final = sum(len(f["text"].split()) for f in finals)
    # WER of the finals' text against the fixture texts (what batch WER is measured on)
    ref_text = [norm(w) for u in placement["utterances"] for w in u["text"].split() if norm(w)]
    hyp_text = [norm(w) for f in finals for w in f["text"].split() if norm(w)]
    _, text_errors = align(hyp_text, ref_text)
    stats = [e for e in events if e["type"] == "stats"]
    last = stats[-1] if stats else {}
    upd, upd_nv = last.get("updates", 0), last.get("updates_no_vad", 0)
    return {
        "words_ref": len(ref), "words_final": n_final, "wer": errors / max(1, len(ref)),
        "wer_text": text_errors / max(1, len(ref_text)),
        "lat_mean": sum(lat) / len(lat) if lat else float("nan"),
        "lat_p50": pct(lat, 50), "lat_p95": pct(lat, 95),
        "first_partial_mean": sum(first) / len(first) if first else float("nan"),
        "ne": erased / max(1, n_final),
        "rtf": last.get("rtf", float("nan")), "updates": upd, "updates_no_vad": upd_nv,
        "calls_saved": 1 - upd / upd_nv if upd_nv else float("nan"),
        "max_backlog": max((s.get("backlog_s", 0) for s in stats), default=float("nan")),
        "degraded": any(s.get("degraded") for s in stats),
        "shed": any(s.get("shedding") for s in stats),
        "last_wall": max((e["wall"] for e in events), default=0),
    }


def cost_figures(cpu_s, n_streams, audio_s, cores):
    """Contention-free cost: the server's CPU seconds (user+sys, /proc/PID/stat) per second
    of audio per stream, and the streams `cores` could hold at that cost. CPU seconds do
    not grow when other processes share the cores (wall-clock RTF does)."""
    if cpu_s is None or n_streams <= 0 or audio_s <= 0:
        return {}
    cost = cpu_s / (n_streams * audio_s)
    return {"cpu_s": cpu_s, "cpu_s_per_audio_s": cost,
            "capacity_streams": cores / cost if cost > 0 else float("inf")}


def cost_line(c, cores, client_cpu_s=None):
    if not c:
        return ""
    client = f", client {client_cpu_s:.1f} s" if client_cpu_s is not None else ""
    return (f"cpu_s_per_audio_s {c['cpu_s_per_audio_s']:.4f} (server {c['cpu_s']:.1f} s user+sys{client})  "
            f"capacity_streams {c['capacity_streams']:.1f} on {cores} cores")


def whisper_report(events, label, audio_s, cost, cores):
    """Whisper on a random-weight model: the text is garbage, so latency is measured
    against the hypothesis' own word times: emission wall time minus the end of the word in
    the audio (audio sent in real time from wall 0), plus RTF and the stats events."""
    lag, final_lag = [], []
    for e in events:
        if e["type"] != "final":
            continue
        final_lag.append(max(0.0, e["wall"] - e["end"]))
        for w in e.get("words") or []:
            lag.append(max(0.0, e["wall"] - w["end"]))
    stats = [e for e in events if e["type"] == "stats"]
    last = stats[-1] if stats else {}
    parts = [e for e in events if e["type"] == "partial" and e.get("text")]
    r = {"label": label, "finals": len(final_lag), "words": len(lag),
         "lat_mean": sum(lag) / len(lag) if lag else float("nan"), "lat_p50": pct(lag, 50),
         "lat_p95": pct(lag, 95), "first_partial": min((e["wall"] for e in parts), default=float("nan")),
         "rtf": last.get("rtf", float("nan")), "updates": last.get("updates", 0),
         "max_buffered_s": max((s.get("buffered_s", 0) for s in stats), default=float("nan")),
         "max_backlog_s": max((s.get("backlog_s", 0) for s in stats), default=float("nan")),
         "degraded_events": sum(1 for s in stats if s.get("degraded")), "stats_events": len(stats),
         "done_at": max((e["wall"] for e in events), default=0), "audio_s": audio_s, **cost}
    print(f"{label:26s} finals {r['finals']:3d} ({r['words']} words)  word lag mean {r['lat_mean']:.2f} s "
          f"p50 {r['lat_p50']:.2f} p95 {r['lat_p95']:.2f}  RTF {r['rtf']:.3f}  updates {r['updates']}  "
          f"max buffered {r['max_buffered_s']:.1f} s  max backlog {r['max_backlog_s']:.1f} s  "
          f"degraded in {r['degraded_events']}/{r['stats_events']} stats  done at {r['done_at']:.1f} s "
          f"(audio {audio_s:.1f} s)")
    if cost:
        print(f"{'':26s} {cost_line(cost, cores)}")
    print(json.dumps(r), file=sys.stderr)


def take_opt(name, conv):
    """Remove `name VALUE` from sys.argv; return conv(VALUE) or None."""
    if name in sys.argv:
        i = sys.argv.index(name)
        v = conv(sys.argv[i + 1])
        del sys.argv[i:i + 2]
        return v
    return None


def main():
    cpu_s = take_opt("--cpu-s", float)
    client_cpu_s = take_opt("--client-cpu-s", float)
    cores = take_opt("--cores", int) or 2
    if sys.argv[1] == "whisper":
        events = [json.loads(l) for l in open(sys.argv[3]) if l.startswith("{")]
        audio_s = float(sys.argv[2])
        whisper_report(events, sys.argv[4] if len(sys.argv) > 4 else "", audio_s,
                       cost_figures(cpu_s, 1, audio_s, cores), cores)
        return
    offsets = take_opt("--offsets", lambda v: [float(x) for x in v.split(",")])
    mode, placement = sys.argv[1], json.load(open(sys.argv[2]))
    if mode == "offsets":
        print(",".join(f"{x:.3f}" for x in rotation_points(placement, int(sys.argv[3]))))
        return
    events = [json.loads(l) for l in open(sys.argv[3]) if l.startswith("{")]
    if mode == "single":
        r = analyse(placement, events)
        label = sys.argv[4] if len(sys.argv) > 4 else ""
        print(f"{label:16s} WER {100 * r['wer_text']:4.1f}% (vs batch words {100 * r['wer']:4.1f}%)  "
              f"word latency mean {r['lat_mean']:.2f} s p50 {r['lat_p50']:.2f} p95 {r['lat_p95']:.2f}  "
              f"first partial {r['first_partial_mean']:.2f} s  NE {r['ne']:.3f}  RTF {r['rtf']:.3f}  "
              f"calls {r['updates']} (no VAD {r['updates_no_vad']}, saved {100 * r['calls_saved']:.0f}%)")
        cost = cost_figures(cpu_s, 1, placement["duration"], cores)
        if cost:
            print(f"{'':16s} {cost_line(cost, cores, client_cpu_s)}")
        print(json.dumps({"label": label, **r, **cost}), file=sys.stderr)
        return
    by = {}
    for e in events:
        by.setdefault(e["stream"], []).append(e)
    rows = []
    for k in sorted(by):
        r = analyse(rotated(placement, offsets[k % len(offsets)]) if offsets else placement, by[k])
        rows.append(r)
        print(f"  stream {k:2d}: finals {r['words_final']:4d} words  WER {100 * r['wer_text']:5.1f}%  "
              f"final-word latency mean {r['lat_mean']:.2f} s p95 {r['lat_p95']:.2f}  RTF {r['rtf']:.3f}  "
              f"max backlog {r['max_backlog']:.2f} s  degraded {'yes' if r['degraded'] else 'no'}  "
              f"shed {'yes' if r['shed'] else 'no'}  done at {r['last_wall']:.1f} s")
    lat = [r["lat_mean"] for r in rows]
    # kept pace: the results were complete within 3 s of the audio's end (a stream whose
    # backlog grew with the stream ends late); kept real time also asks that the backlog
    # never exceeded 1 s, bursts of simultaneous speech included
    paced = [r["last_wall"] < placement["duration"] + 3 for r in rows]
    n_pace = sum(paced)
    n_rt = sum(1 for r, p in zip(rows, paced) if p and r["max_backlog"] < 1.0)
    wer_mean = sum(r["wer_text"] for r in rows) / len(rows)
    print(f"  {len(rows)} streams: mean final-word latency {sum(lat) / len(lat):.2f} s (worst {max(lat):.2f}), "
          f"mean RTF {sum(r['rtf'] for r in rows) / len(rows):.3f}, "
          f"max backlog {max(r['max_backlog'] for r in rows):.2f} s, degraded {sum(r['degraded'] for r in rows)}, "
          f"shed {sum(r['shed'] for r in rows)}, mean WER {100 * wer_mean:.1f}%")
    print(f"  {len(rows)} streams: kept pace (done within 3 s of the end) {n_pace}/{len(rows)}, "
          f"kept real time (also backlog < 1 s throughout) {n_rt}/{len(rows)}")
    cost = cost_figures(cpu_s, len(rows), placement["duration"], cores)
    if cost:
        print(f"  {len(rows)} streams: {cost_line(cost, cores, client_cpu_s)}")
    print(json.dumps({"label": f"multi_{len(rows)}", "streams": len(rows), "kept_pace": n_pace, "real_time": n_rt,
                      "wer_mean": wer_mean,
                      "lat_mean": sum(lat) / len(lat), "max_backlog": max(r["max_backlog"] for r in rows),
                      **cost}), file=sys.stderr)


if __name__ == "__main__":
    main()
