#!/usr/bin/python3
"""stream_latency.py - figures for bench/stream_latency.sh from ws_client event lines.

  stream_latency.py single PLACEMENT.json EVENTS.jsonl [LABEL]
  stream_latency.py multi  PLACEMENT.json EVENTS.jsonl

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
        "last_wall": max((e["wall"] for e in events), default=0),
    }


def main():
    mode, placement = sys.argv[1], json.load(open(sys.argv[2]))
    events = [json.loads(l) for l in open(sys.argv[3]) if l.startswith("{")]
    if mode == "single":
        r = analyse(placement, events)
        label = sys.argv[4] if len(sys.argv) > 4 else ""
        print(f"{label:16s} WER {100 * r['wer_text']:4.1f}% (vs batch words {100 * r['wer']:4.1f}%)  "
              f"word latency mean {r['lat_mean']:.2f} s p50 {r['lat_p50']:.2f} p95 {r['lat_p95']:.2f}  "
              f"first partial {r['first_partial_mean']:.2f} s  NE {r['ne']:.3f}  RTF {r['rtf']:.3f}  "
              f"calls {r['updates']} (no VAD {r['updates_no_vad']}, saved {100 * r['calls_saved']:.0f}%)")
        print(json.dumps({"label": label, **r}), file=sys.stderr)
        return
    by = {}
    for e in events:
        by.setdefault(e["stream"], []).append(e)
    rows = []
    for k in sorted(by):
        r = analyse(placement, by[k])
        rows.append(r)
        print(f"  stream {k:2d}: finals {r['words_final']:4d} words  WER {100 * r['wer_text']:5.1f}%  "
              f"final-word latency mean {r['lat_mean']:.2f} s p95 {r['lat_p95']:.2f}  RTF {r['rtf']:.3f}  "
              f"max backlog {r['max_backlog']:.2f} s  degraded {'yes' if r['degraded'] else 'no'}  "
              f"done at {r['last_wall']:.1f} s")
    lat = [r["lat_mean"] for r in rows]
    n_rt = sum(1 for r in rows if r["max_backlog"] < 1.0 and r["last_wall"] < placement["duration"] + 3)
    print(f"  {len(rows)} streams: mean final-word latency {sum(lat) / len(lat):.2f} s (worst {max(lat):.2f}), "
          f"mean RTF {sum(r['rtf'] for r in rows) / len(rows):.3f}, "
          f"max backlog {max(r['max_backlog'] for r in rows):.2f} s, degraded {sum(r['degraded'] for r in rows)}, "
          f"kept real time (backlog < 1 s, done within 3 s of the end) {n_rt}/{len(rows)}")


if __name__ == "__main__":
    main()
