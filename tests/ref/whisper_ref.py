#!/usr/bin/python3
"""whisper_ref.py - an independent NumPy reference of Whisper's front end and forward pass.

Written from the specs (docs/whisper-ggml-format.md, docs/whisper-decoding.md) and
openai/whisper's model definition, not from sotto's C code, so the C implementation can be
checked against it. It parses a ggml Whisper file itself (f32, f16, q4_0, q4_1, q5_0, q5_1,
q8_0), computes everything in float64 and writes raw little-endian float32 files:

  mel.f32     (n_mels, 3000) log-mel of the audio (zero-padded to 30 s)
  enc.f32     (n_audio_ctx, n_audio_state) encoder output after ln_post
  logits.f32  (len(tokens), n_vocab) decoder logits at every position of --tokens
  greedy.txt  --greedy N tokens chosen greedily after --tokens (space separated)
  shape.txt   "n_mels n_audio_ctx n_audio_state n_tokens n_vocab"

usage: whisper_ref.py MODEL AUDIO.f32 --dump-dir DIR [--tokens 50258,50259,50359]
                      [--greedy 20] [--gelu tanh|erf]
AUDIO.f32 is raw float32 16 kHz mono samples (at most 30 s).
GELU: openai/whisper uses the exact erf form; whisper.cpp (ggml) and sotto use the tanh
approximation. The default is tanh so the comparison measures the implementation, not the
approximation; --gelu erf shows how far the two forms are apart.
"""
import argparse
import math
import os
import struct
import sys

import numpy as np

TYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0"}
BLOCK = {"q4_0": 18, "q4_1": 20, "q5_0": 22, "q5_1": 24, "q8_0": 34}  # bytes per 32 weights
N_FFT, HOP, N_SAMPLES, N_FRAMES = 400, 160, 480000, 3000


def dequantize(kind, raw, n):
    """float64 weights from raw bytes of n values of a ggml type."""
    if kind == "f32":
        return np.frombuffer(raw, dtype="<f4", count=n).astype(np.float64)
    if kind == "f16":
        return np.frombuffer(raw, dtype="<f2", count=n).astype(np.float64)
    nb = n // 32
    b = np.frombuffer(raw, dtype=np.uint8, count=nb * BLOCK[kind]).reshape(nb, BLOCK[kind])
    d = b[:, 0:2].copy().view("<f2").astype(np.float64)  # (nb, 1)
    if kind == "q8_0":
        q = b[:, 2:34].copy().view(np.int8).astype(np.float64)
        return (q * d).reshape(-1)
    if kind in ("q4_1", "q5_1"):
        mn = b[:, 2:4].copy().view("<f2").astype(np.float64)
        off = 4
    else:
        mn, off = None, 2
    if kind in ("q5_0", "q5_1"):
        qh = b[:, off:off + 4].copy().view("<u4").astype(np.uint64)  # (nb, 1)
        off += 4
    qs = b[:, off:off + 16].astype(np.int64)
    q = np.concatenate([qs & 0xF, qs >> 4], axis=1)  # weights j and j+16
    if kind in ("q5_0", "q5_1"):
        bits = (qh >> np.arange(32, dtype=np.uint64)) & 1
        q = q | (bits.astype(np.int64) << 4)
    if kind == "q4_0":
        return ((q - 8) * d).reshape(-1)
    if kind == "q5_0":
        return ((q - 16) * d).reshape(-1)
    return (q * d + mn).reshape(-1)


class Model:
    def __init__(self, path):
        data = open(path, "rb").read()
        pos = 0

        def take(n):
            nonlocal pos
            if pos + n > len(data):
                raise ValueError("truncated model file at offset %d" % pos)
            s = data[pos:pos + n]
            pos += n
            return s

        (magic,) = struct.unpack("<I", take(4))
        if magic != 0x67676D6C:
            raise ValueError("bad magic %#x" % magic)
        names = ["n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
                 "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype"]
        self.hp = dict(zip(names, struct.unpack("<11i", take(44))))
        n_mel, n_fft = struct.unpack("<2i", take(8))
        self.filters = np.frombuffer(take(4 * n_mel * n_fft), dtype="<f4").astype(np.float64)
        self.filters = self.filters.reshape(n_mel, n_fft)
        (count,) = struct.unpack("<i", take(4))
        for _ in range(count):
            (ln,) = struct.unpack("<I", take(4))
            take(ln)
        self.t = {}
        while pos < len(data):
            n_dims, name_len, ttype = struct.unpack("<3i", take(12))
            ne = struct.unpack("<%di" % n_dims, take(4 * n_dims))
            name = take(name_len).decode()
            kind = TYPES[ttype]
            n = int(np.prod(ne)) if ne else 1
            nbytes = n * 4 if kind == "f32" else n * 2 if kind == "f16" else n // 32 * BLOCK[kind]
            w = dequantize(kind, take(nbytes), n)
            self.t[name] = w.reshape(tuple(reversed(ne)))  # PyTorch order
        hp = self.hp
        v = hp["n_vocab"]
        self.eot = 50256 if v == 51864 else 50257
        self.sot = self.eot + 1
        multilingual = v >= 51865
        n_lang = 100 if v == 51866 else 99
        self.transcribe = self.sot + 1 + n_lang + 1
        self.sot_sequence = [self.sot, self.sot + 1, self.transcribe] if multilingual else [self.sot]

    def w(self, name):
        return self.t[name]


def log_mel(model, audio):
    if len(audio) > N_SAMPLES:
        raise ValueError("more than 30 s of audio")
    x = np.zeros(N_SAMPLES, dtype=np.float64)
    x[:len(audio)] = audio
    x = np.pad(x, N_FFT // 2, mode="reflect")  # torch.stft(center=True, pad_mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP  # 3001
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    spec = np.fft.rfft(x[idx] * window, axis=-1)
    power = np.abs(spec[:-1]) ** 2  # drop the last frame: (3000, 201)
    mel = model.filters @ power.T
    logm = np.log10(np.maximum(mel, 1e-10))
    logm = np.maximum(logm, logm.max() - 8.0)
    return (logm + 4.0) / 4.0


def gelu(x, form):
    if form == "erf":
        erf = np.vectorize(math.erf)
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention(q, k, v, n_head, causal):
    """Multi-head attention of projected rows; returns (out, probs (head, nq, nk))."""
    nq, S = q.shape
    dh = S // n_head
    qh = q.reshape(nq, n_head, dh).transpose(1, 0, 2)
    kh = k.reshape(-1, n_head, dh).transpose(1, 0, 2)
    vh = v.reshape(-1, n_head, dh).transpose(1, 0, 2)
    s = qh @ kh.transpose(0, 2, 1) / math.sqrt(dh)
    if causal:
        nk = kh.shape[1]
        mask = np.triu(np.ones((nq, nk), dtype=bool), k=nk - nq + 1)
        s = np.where(mask, -np.inf, s)
    p = softmax(s)
    return (p @ vh).transpose(1, 0, 2).reshape(nq, S), p


def cross_kv(m, pre, xa):
    """A decoder block's cross-attention keys and values (they depend on the audio only)."""
    W = m.w
    k = xa @ W(pre + "cross_attn.key.weight").T
    v = xa @ W(pre + "cross_attn.value.weight").T + W(pre + "cross_attn.value.bias")
    return k, v


def block(m, pre, x, n_head, causal, xkv=None, gelu_form="tanh"):
    """One residual attention block of openai/whisper's model.py; xkv = cross_kv(...)."""
    W = m.w
    h = layer_norm(x, W(pre + "attn_ln.weight"), W(pre + "attn_ln.bias"))
    q = h @ W(pre + "attn.query.weight").T + W(pre + "attn.query.bias")
    k = h @ W(pre + "attn.key.weight").T
    v = h @ W(pre + "attn.value.weight").T + W(pre + "attn.value.bias")
    o, _ = attention(q, k, v, n_head, causal)
    x = x + o @ W(pre + "attn.out.weight").T + W(pre + "attn.out.bias")
    probs = None
    if xkv is not None:
        h = layer_norm(x, W(pre + "cross_attn_ln.weight"), W(pre + "cross_attn_ln.bias"))
        q = h @ W(pre + "cross_attn.query.weight").T + W(pre + "cross_attn.query.bias")
        k, v = xkv
        o, probs = attention(q, k, v, n_head, False)
        x = x + o @ W(pre + "cross_attn.out.weight").T + W(pre + "cross_attn.out.bias")
    h = layer_norm(x, W(pre + "mlp_ln.weight"), W(pre + "mlp_ln.bias"))
    f = gelu(h @ W(pre + "mlp.0.weight").T + W(pre + "mlp.0.bias"), gelu_form)
    x = x + f @ W(pre + "mlp.2.weight").T + W(pre + "mlp.2.bias")
    return x, probs


def conv1d(x, w, b, stride):
    """x (C_in, T), w (C_out, C_in, 3), padding 1 -> (C_out, T_out)."""
    xp = np.pad(x, ((0, 0), (1, 1)))
    t_out = (x.shape[1] + 2 - 3) // stride + 1
    out = np.zeros((w.shape[0], t_out))
    for tap in range(3):
        out += w[:, :, tap] @ xp[:, tap:tap + stride * (t_out - 1) + 1:stride]
    return out + b.reshape(-1, 1)


def encode(m, mel, gelu_form):
    hp, W = m.hp, m.w
    x = gelu(conv1d(mel, W("encoder.conv1.weight"), W("encoder.conv1.bias"), 1), gelu_form)
    x = gelu(conv1d(x, W("encoder.conv2.weight"), W("encoder.conv2.bias"), 2), gelu_form)
    x = x.T + W("encoder.positional_embedding")  # (A, S)
    for i in range(hp["n_audio_layer"]):
        x, _ = block(m, "encoder.blocks.%d." % i, x, hp["n_audio_head"], False, None, gelu_form)
    return layer_norm(x, W("encoder.ln_post.weight"), W("encoder.ln_post.bias"))


def decode(m, xkv, tokens, gelu_form, last_only=False):
    """Logits (n, n_vocab) at every position of tokens, or (1, n_vocab) of the last one
    (no self-attention cache: the whole sequence each time); xkv: every layer's cross_kv()."""
    hp, W = m.hp, m.w
    emb = W("decoder.token_embedding.weight")  # (V, S)
    x = emb[tokens] + W("decoder.positional_embedding")[:len(tokens)]
    for i in range(hp["n_text_layer"]):
        x, _ = block(m, "decoder.blocks.%d." % i, x, hp["n_text_head"], True, xkv[i], gelu_form)
    x = layer_norm(x, W("decoder.ln.weight"), W("decoder.ln.bias"))
    return (x[-1:] if last_only else x) @ emb.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("audio")
    ap.add_argument("--dump-dir", required=True)
    ap.add_argument("--tokens", help="comma-separated token ids (default: the sot sequence)")
    ap.add_argument("--greedy", type=int, default=0, help="greedy-decode this many tokens")
    ap.add_argument("--gelu", choices=["tanh", "erf"], default="tanh")
    a = ap.parse_args()

    m = Model(a.model)
    audio = np.fromfile(a.audio, dtype="<f4").astype(np.float64)
    os.makedirs(a.dump_dir, exist_ok=True)
    out = lambda name: os.path.join(a.dump_dir, name)

    mel = log_mel(m, audio)
    mel.astype("<f4").tofile(out("mel.f32"))
    # the encoder reads the mel as float32, as the C code does
    xa = encode(m, mel.astype(np.float32).astype(np.float64), a.gelu)
    xa.astype("<f4").tofile(out("enc.f32"))
    tokens = [int(t) for t in a.tokens.split(",")] if a.tokens else list(m.sot_sequence)
    xkv = [cross_kv(m, "decoder.blocks.%d." % i, xa) for i in range(m.hp["n_text_layer"])]
    logits = decode(m, xkv, tokens, a.gelu)
    logits.astype("<f4").tofile(out("logits.f32"))
    seq = list(tokens)
    for _ in range(a.greedy):
        if len(seq) >= m.hp["n_text_ctx"]:
            break
        seq.append(int(np.argmax(decode(m, xkv, seq, a.gelu, True)[-1])))
    with open(out("greedy.txt"), "w") as f:
        f.write(" ".join(str(t) for t in seq[len(tokens):]) + "\n")
    with open(out("shape.txt"), "w") as f:
        f.write("%d %d %d %d %d\n" % (m.hp["n_mels"], xa.shape[0], xa.shape[1], len(tokens),
                                      m.hp["n_vocab"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
