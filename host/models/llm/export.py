#!/usr/bin/python3
"""Writes the model trained by train.py as llama GGUF v3 files, F32 and
Q8_0, with its SentencePiece tokenizer, using llama.cpp's gguf-py.

    PYTHONPATH=/path/to/llama.cpp/gguf-py /usr/bin/python3 host/models/llm/export.py \
        [--ckpt build/llm/model.pt] [--tokenizer host/models/llm/tokenizer.model] \
        [--out host/models/llm] [--name sampan-tri-1.6m]

gguf-py comes with the llama.cpp source that the npm package node-llama-cpp
ships as llama/gitRelease.bundle (`make train-llm` clones it under build/).

The torch model rotates adjacent pairs of each head (llama.cpp's NORM RoPE,
the one the llama architecture uses), so Q and K are written unpermuted.
The output projection is tied to the token embedding: no output.weight.
Weights are written as torch holds them, (out, in) row-major, which GGUF
records as ne = {in, out}. In the Q8_0 file every 2-D weight is Q8_0
(blocks of 32 along the input dimension); the norm vectors stay F32.
"""
import argparse
import os

import numpy as np
import torch
import sentencepiece as spm
import gguf

T = gguf.GGMLQuantizationType


def tokenizer_arrays(sp):
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(float(sp.get_score(i)))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.NORMAL)
    return tokens, scores, types


def tensors(state, c):
    """(gguf name, float32 array (out, in) or (n,)) in llama.cpp's names."""
    yield "token_embd.weight", state["tok.weight"]
    names = {
        "attn_norm.weight": "attn_norm.weight", "wq.weight": "attn_q.weight",
        "wk.weight": "attn_k.weight", "wv.weight": "attn_v.weight",
        "wo.weight": "attn_output.weight", "ffn_norm.weight": "ffn_norm.weight",
        "w_gate.weight": "ffn_gate.weight", "w_up.weight": "ffn_up.weight",
        "w_down.weight": "ffn_down.weight",
    }
    for i in range(c["n_layers"]):
        for ours, theirs in names.items():
            yield "blk.%d.%s" % (i, theirs), state["blocks.%d.%s" % (i, ours)]
    yield "output_norm.weight", state["norm.weight"]


def write(path, qtype, state, c, sp, name):
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(name)
    w.add_description("sampan's small trilingual (English, Mandarin, Cantonese) llama, "
                      "trained by host/models/llm/train.py on Debian's fortunes, fortunes-zh "
                      "and rime-data-jyut6ping3")
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if qtype == T.F32 else gguf.LlamaFileType.MOSTLY_Q8_0)
    if qtype != T.F32:
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    head_dim = c["dim"] // c["n_heads"]
    w.add_vocab_size(c["vocab_size"])
    w.add_context_length(c["ctx"])
    w.add_embedding_length(c["dim"])
    w.add_block_count(c["n_layers"])
    w.add_feed_forward_length(c["ffn_dim"])
    w.add_head_count(c["n_heads"])
    w.add_head_count_kv(c["n_kv_heads"])
    w.add_layer_norm_rms_eps(c["norm_eps"])
    w.add_rope_freq_base(c["rope_base"])
    w.add_rope_dimension_count(head_dim)

    tokens, scores, types = tokenizer_arrays(sp)
    assert len(tokens) == c["vocab_size"]
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(sp.unk_id())
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)

    for tname, t in tensors(state, c):
        a = t.detach().cpu().float().numpy().astype(np.float32)
        if qtype == T.F32 or a.ndim == 1:
            w.add_tensor(tname, a)
        else:
            assert a.shape[-1] % 32 == 0, (tname, a.shape)
            w.add_tensor(tname, gguf.quants.quantize(a, qtype), raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default="build/llm/model.pt")
    ap.add_argument("--tokenizer", default="host/models/llm/tokenizer.model")
    ap.add_argument("--out", default="host/models/llm")
    ap.add_argument("--name", default="sampan-tri")
    args = ap.parse_args()
    ck = torch.load(args.ckpt, map_location="cpu")
    c, state = ck["config"], ck["model"]
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    base = os.path.join(args.out, args.name)
    write(base + "-f32.gguf", T.F32, state, c, sp, args.name)
    write(base + "-q8_0.gguf", T.Q8_0, state, c, sp, args.name)


if __name__ == "__main__":
    main()
