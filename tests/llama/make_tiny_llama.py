#!/usr/bin/python3
"""Writes a small random-weight llama model in GGUF (Q8_0 matrices) for the
llama.cpp tests of the sampan ggml backend.

    make_tiny_llama.py GGUF_PY_DIR OUT.gguf [--seed N]

GGUF_PY_DIR is gguf-py from the llama.cpp source that `make llama-src`
clones. The vocabulary is SentencePiece-style ("llama" tokenizer): <unk>,
<s>, </s>, the 256 byte-fallback tokens and a few hundred word pieces, so
that any prompt tokenizes. Weights are random (fixed seed), scaled so that
the logits are well spread and greedy decoding is not decided by float
noise. The matrices are Q8_0 (what the sampan device multiplies), the
norms F32, the token embedding Q8_0 (looked up on the CPU).
"""

import argparse
import sys

N_VOCAB_WORDS = 256
N_EMBD = 256
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 512
N_LAYER = 2
N_CTX = 512

WORDS = """the of and to in is was for on that with as by at from his her an
were are which this be has or had not but its one all also first new more
their after who they two been other when time into world some there would
only most years over can many city under may during made between than she
him he then where out up about these while state war later both same part
such so three through no first being well used those against them school
name each known well before house music since area came began life off found
day work early people long high country own until around series second game
sampan river boat water sea wind sail light small little old big red blue
green cat dog bird fish tree sun moon star rain snow hill road town king
queen song book word page line door room hand eye head""".split()


def build_vocab():
    tokens, scores, types = [], [], []

    def add(text, score, ttype):
        tokens.append(text)
        scores.append(score)
        types.append(ttype)

    add("<unk>", 0.0, 2)  # UNKNOWN
    add("<s>", 0.0, 3)    # CONTROL
    add("</s>", 0.0, 3)
    for b in range(256):
        add("<0x%02X>" % b, 0.0, 6)  # BYTE
    seen = set()
    words = []
    for w in WORDS:
        if w not in seen:
            seen.add(w)
            words.append(w)
    pieces = []
    for w in words:
        pieces.append("\u2581" + w)
        pieces.append(w)
    for c in "abcdefghijklmnopqrstuvwxyz.,!?":
        pieces.append(c)
        pieces.append("\u2581" + c)
    pieces.append("\u2581")
    uniq = []
    for p in pieces:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    for i, p in enumerate(uniq[:N_VOCAB_WORDS * 2]):
        add(p, -float(i), 1)  # NORMAL, earlier pieces preferred
    # pad to a multiple of 32 so that output.weight has whole Q8_0 rows
    while len(tokens) % 32:
        add("<pad%d>" % len(tokens), -1e4, 5)  # UNUSED
    return tokens, scores, types


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf_py")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    sys.path.insert(0, args.gguf_py)
    import numpy as np
    import gguf

    rng = np.random.default_rng(args.seed)
    tokens, scores, types = build_vocab()
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD

    w = gguf.GGUFWriter(args.out, "llama")
    w.add_name("sampan-tiny-random")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(
        "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}")

    def q8(name, rows, cols, scale):
        x = (rng.standard_normal((rows, cols)) * scale).astype(np.float32)
        q = gguf.quantize(x, gguf.GGMLQuantizationType.Q8_0)
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    def f32(name, n, lo, hi):
        w.add_tensor(name, rng.uniform(lo, hi, n).astype(np.float32))

    q8("token_embd.weight", n_vocab, N_EMBD, 1.0)
    for i in range(N_LAYER):
        f32("blk.%d.attn_norm.weight" % i, N_EMBD, 0.8, 1.2)
        q8("blk.%d.attn_q.weight" % i, N_EMBD, N_EMBD, 0.08)
        q8("blk.%d.attn_k.weight" % i, N_HEAD_KV * head_dim, N_EMBD, 0.08)
        q8("blk.%d.attn_v.weight" % i, N_HEAD_KV * head_dim, N_EMBD, 0.08)
        q8("blk.%d.attn_output.weight" % i, N_EMBD, N_EMBD, 0.05)
        f32("blk.%d.ffn_norm.weight" % i, N_EMBD, 0.8, 1.2)
        q8("blk.%d.ffn_gate.weight" % i, N_FF, N_EMBD, 0.08)
        q8("blk.%d.ffn_up.weight" % i, N_FF, N_EMBD, 0.08)
        q8("blk.%d.ffn_down.weight" % i, N_EMBD, N_FF, 0.05)
    f32("output_norm.weight", N_EMBD, 0.8, 1.2)
    q8("output.weight", n_vocab, N_EMBD, 0.4)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("%s: llama, %d layers, n_embd %d, n_ff %d, %d heads (%d kv), vocab %d, Q8_0"
          % (args.out, N_LAYER, N_EMBD, N_FF, N_HEAD, N_HEAD_KV, n_vocab))


if __name__ == "__main__":
    main()
