#!/usr/bin/python3
"""Trains sampan's small trilingual language model (English, Mandarin and
classical Chinese, Cantonese) on text that Debian packages ship.

    /usr/bin/python3 host/models/llm/train.py [--seed 1234] [--steps 2400]
        [--threads 2] [--work build/llm] [--out host/models/llm]

Data (all read from the installed packages, found with dpkg -L):
  English      fortunes, fortunes-min   /usr/share/games/fortunes/*
  Mandarin     fortunes-zh              chinese (sayings), tang300, song100
  Cantonese    rime-data-jyut6ping3     jyut6ping3.words.dict.yaml (the word
               list) and the colloquial entries of jyut6ping3.phrase.dict.yaml

Each fortune is a document; the Cantonese entries are grouped in file order
into documents of a few lines each. Documents are cleaned (ANSI colours,
overstrike, tabs and runs of spaces removed), deduplicated, and split per
language into train and held-out sets by a seeded shuffle.

Tokenizer: SentencePiece BPE with byte fallback, identity normalization and
whitespace kept as is, so that llama.cpp's SPM tokenizer (which merges by
score and applies no normalization) gives the same ids.

Model: llama architecture: token embedding (tied with the output), RMSNorm,
RoPE rotating adjacent pairs (x0,x1),(x2,x3).. of each head as llama.cpp's
LLAMA_ROPE_TYPE_NORM does, so the Q/K weights are exported without any
permutation; grouped-query attention (query head h reads key/value head
h // (n_head / n_head_kv)), SwiGLU feed-forward.

Outputs: WORK/model.pt (weights and config, read by export.py),
OUT/tokenizer.model, OUT/train.log, OUT/heldout.txt (held-out documents as
plain text, for perplexity runs of other programs).
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import time
import unicodedata

import torch
import torch.nn as nn
import torch.nn.functional as F
import sentencepiece as spm

# ----------------------------------------------------------------- config

CONFIG = dict(
    vocab_size=6144,
    dim=128,
    n_layers=4,
    n_heads=4,
    n_kv_heads=2,
    ffn_dim=384,
    ctx=128,
    rope_base=10000.0,
    norm_eps=1e-5,
)

LOG = None


def log(msg=""):
    print(msg, flush=True)
    if LOG is not None:
        LOG.write(msg + "\n")
        LOG.flush()


# ------------------------------------------------------------------- data

def package_files(pkg):
    out = subprocess.run(["dpkg", "-L", pkg], check=True, capture_output=True, text=True).stdout
    return [p for p in out.splitlines() if os.path.isfile(p) and not os.path.islink(p)]


def read_text(path):
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
OVERSTRIKE = re.compile(r".\x08")


def clean(text):
    """ANSI colours, overstrike and control characters out; each line's
    runs of blanks collapsed to one space and trimmed; blank lines out."""
    text = ANSI.sub("", text)
    text = OVERSTRIKE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    lines = []
    for line in text.split("\n"):
        line = "".join(c if (c == "\t" or unicodedata.category(c)[0] != "C") else "" for c in line)
        line = re.sub(r"[ \t\u3000\u00a0]+", " ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def fortune_docs(path, max_chars):
    docs = []
    for part in re.split(r"\n%\n", read_text(path).replace("\r", "")):
        d = clean(part.strip("%\n"))
        if d and len(d) <= max_chars:
            docs.append(d)
    return docs


def collect_english():
    files = set()
    for pkg in ("fortunes", "fortunes-min"):
        for p in package_files(pkg):
            if p.startswith("/usr/share/games/fortunes/") and not p.endswith((".dat", ".u8")):
                files.add(p)
    # ASCII drawings are not language.
    files = sorted(f for f in files if os.path.basename(f) != "ascii-art")
    docs = []
    for f in files:
        docs += fortune_docs(f, 1000)
    return files, docs


def collect_mandarin():
    files = sorted(p for p in package_files("fortunes-zh")
                   if p.startswith("/usr/share/games/fortunes/") and not p.endswith((".dat", ".u8")))
    docs = []
    for f in files:
        docs += fortune_docs(f, 1000)
    return files, docs


# Characters of written Cantonese that standard written Chinese lacks: an
# entry of the phrase list holding one is colloquial Cantonese (the rest of
# that list is mostly place and shop names).
CANTONESE_MARKS = set("佢嘅咗唔啲哋喺嘢冇噉乜嚟睇啱咩囉喇嘞畀俾揾搵嗰咁噃啩喎嘥攞諗啫嚿冚瞓傾")


def rime_entries(path):
    out, body = [], False
    for line in read_text(path).split("\n"):
        if line.startswith("..."):
            body = True
            continue
        if not body or not line or line.startswith("#"):
            continue
        word = clean(line.split("\t")[0])
        if word:
            out.append(word)
    return out


def collect_cantonese():
    files = package_files("rime-data-jyut6ping3")
    words_f = [p for p in files if p.endswith("/jyut6ping3.words.dict.yaml")][0]
    phrase_f = [p for p in files if p.endswith("/jyut6ping3.phrase.dict.yaml")][0]
    seen, words, phrases = set(), [], []
    for w in rime_entries(words_f):
        if w not in seen:
            seen.add(w)
            words.append(w)
    for w in rime_entries(phrase_f):
        if w not in seen and any(c in CANTONESE_MARKS for c in w):
            seen.add(w)
            phrases.append(w)
    # Documents: consecutive entries of each list, in file order.
    docs = ["\n".join(words[i:i + 16]) for i in range(0, len(words), 16)]
    docs += ["\n".join(phrases[i:i + 8]) for i in range(0, len(phrases), 8)]
    return [words_f, phrase_f], docs, len(words), len(phrases)


def dedupe(docs):
    seen, out = set(), []
    for d in docs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def split(docs, frac, rng):
    docs = list(docs)
    rng.shuffle(docs)
    n_test = max(1, int(round(len(docs) * frac)))
    return docs[n_test:], docs[:n_test]


# ------------------------------------------------------------------ model

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(ctx, head_dim, base):
    # Pair i of a head, (x[2i], x[2i+1]), turns by pos * base^(-2i/head_dim).
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(ctx, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rope(x, cos, sin):
    """x: (B, T, H, D); rotates adjacent pairs (llama.cpp's NORM mode)."""
    b, t, h, d = x.shape
    xp = x.view(b, t, h, d // 2, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    c = cos[:t, None, :]
    s = sin[:t, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).view(b, t, h, d)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads, self.n_kv = c["n_heads"], c["n_kv_heads"]
        self.hd = c["dim"] // c["n_heads"]
        self.attn_norm = RMSNorm(c["dim"], c["norm_eps"])
        self.wq = nn.Linear(c["dim"], self.n_heads * self.hd, bias=False)
        self.wk = nn.Linear(c["dim"], self.n_kv * self.hd, bias=False)
        self.wv = nn.Linear(c["dim"], self.n_kv * self.hd, bias=False)
        self.wo = nn.Linear(self.n_heads * self.hd, c["dim"], bias=False)
        self.ffn_norm = RMSNorm(c["dim"], c["norm_eps"])
        self.w_gate = nn.Linear(c["dim"], c["ffn_dim"], bias=False)
        self.w_up = nn.Linear(c["dim"], c["ffn_dim"], bias=False)
        self.w_down = nn.Linear(c["ffn_dim"], c["dim"], bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        h = self.attn_norm(x)
        q = rope(self.wq(h).view(b, t, self.n_heads, self.hd), cos, sin)
        k = rope(self.wk(h).view(b, t, self.n_kv, self.hd), cos, sin)
        v = self.wv(h).view(b, t, self.n_kv, self.hd)
        g = self.n_heads // self.n_kv
        k = k.repeat_interleave(g, dim=2)
        v = v.repeat_interleave(g, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        att = att.masked_fill(mask[:t, :t], float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, -1)
        x = x + self.wo(y)
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c["vocab_size"], c["dim"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(c["dim"], c["norm_eps"])
        cos, sin = rope_tables(c["ctx"], c["dim"] // c["n_heads"], c["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.triu(torch.ones(c["ctx"], c["ctx"], dtype=torch.bool), 1)
        self.register_buffer("mask", mask, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                if name.endswith(("wo.weight", "w_down.weight")):
                    std = 0.02 / math.sqrt(2 * c["n_layers"])
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        x = self.tok(idx)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin, self.mask)
        return self.norm(x) @ self.tok.weight.t()  # tied output


# ---------------------------------------------------------------- helpers

def encode_docs(sp, docs):
    """Token stream: BOS doc EOS BOS doc EOS ...; and each doc's start."""
    stream, starts = [], []
    for ids in sp.encode(docs):
        starts.append(len(stream))
        stream += [sp.bos_id()] + ids + [sp.eos_id()]
    return torch.tensor(stream, dtype=torch.long), torch.tensor(starts, dtype=torch.long)


@torch.no_grad()
def eval_nll(model, stream, ctx, batch=16):
    """Mean next-token NLL (nats) over the stream cut into windows of ctx+1
    tokens overlapping by one, every token after the first predicted once."""
    model.eval()
    total, count = 0.0, 0
    n = (len(stream) - 1) // ctx
    wins = [stream[i * ctx:i * ctx + ctx + 1] for i in range(n)]
    tail = stream[n * ctx:]
    for i in range(0, len(wins), batch):
        w = torch.stack(wins[i:i + batch])
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += w[:, 1:].numel()
    if len(tail) > 1:
        logits = model(tail[None, :-1])
        total += F.cross_entropy(logits[0], tail[1:], reduction="sum").item()
        count += len(tail) - 1
    model.train()
    return total / count, count


@torch.no_grad()
def greedy(model, ids, n, eos):
    model.eval()
    out = list(ids)
    for _ in range(n):
        x = torch.tensor([out[-model.c["ctx"]:]])
        nxt = int(model(x)[0, -1].argmax())
        out.append(nxt)
        if nxt == eos:
            break
    model.train()
    return out[len(ids):]


def lr_at(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


PROMPTS = ["香港", "The ", "佢哋", "人生", "Life is", "我哋今日", "床前明月光，"]


# ------------------------------------------------------------------- main

def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--steps", type=int, default=160)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--test-frac", type=float, default=0.02)
    ap.add_argument("--eval-every", type=int, default=40)
    ap.add_argument("--work", default="build/llm")
    ap.add_argument("--out", default="host/models/llm")
    args = ap.parse_args()

    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    LOG = open(os.path.join(args.out, "train.log"), "w", encoding="utf-8")
    t0 = time.time()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    spm.set_random_generator_seed(args.seed)

    log("command: /usr/bin/python3 " + " ".join(sys.argv))
    log("python %s, torch %s, sentencepiece %s, threads %d, seed %d" % (
        sys.version.split()[0], torch.__version__, spm.__version__, args.threads, args.seed))
    log("started: " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t0)))

    # --- data
    en_files, en = collect_english()
    zh_files, zh = collect_mandarin()
    yue_files, yue, n_words, n_phrases = collect_cantonese()
    rng = random.Random(args.seed)
    sets = {}
    for lang, docs, files in (("en", en, en_files), ("zh", zh, zh_files), ("yue", yue, yue_files)):
        docs = dedupe(docs)
        tr, te = split(docs, args.test_frac, rng)
        sets[lang] = (tr, te)
        log("data %-3s: %d files, %d documents (%d chars): train %d, held out %d" % (
            lang, len(files), len(docs), sum(map(len, docs)), len(tr), len(te)))
    log("data yue: %d words (words.dict), %d colloquial phrases (phrase.dict)" % (n_words, n_phrases))

    train_docs = [d for lang in sets for d in sets[lang][0]]
    test_docs = {lang: sets[lang][1] for lang in sets}
    rng.shuffle(train_docs)
    with open(os.path.join(args.out, "heldout.txt"), "w", encoding="utf-8") as f:
        for lang in ("en", "zh", "yue"):
            for d in test_docs[lang]:
                f.write(d + "\n\n")

    # --- tokenizer
    sp_input = os.path.join(args.work, "sp_input.txt")
    with open(sp_input, "w", encoding="utf-8") as f:
        for d in train_docs:
            f.write(d + "\n")
    prefix = os.path.join(args.work, "spm_bpe")
    spm.SentencePieceTrainer.train(
        input=sp_input, model_prefix=prefix, model_type="bpe",
        vocab_size=CONFIG["vocab_size"], character_coverage=0.99, byte_fallback=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=True, split_digits=True, max_sentence_length=4096,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        shuffle_input_sentence=False, minloglevel=2)
    with open(prefix + ".model", "rb") as src, open(os.path.join(args.out, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    for text in ("香港", "佢哋喺度食緊飯。", "The quick brown fox\njumps.", "😀 ok"):
        ids = sp.encode(text)
        assert sp.decode(ids) == text, (text, sp.decode(ids))
    log("tokenizer: SentencePiece BPE, %d pieces, byte fallback, %.1f s" % (sp.get_piece_size(), time.time() - t0))

    train_stream, train_starts = encode_docs(sp, train_docs)
    tests = {lang: encode_docs(sp, test_docs[lang])[0] for lang in test_docs}
    test_all = torch.cat([tests[lang] for lang in ("en", "zh", "yue")])
    for lang in ("en", "zh", "yue"):
        n_tr = sum(len(x) + 2 for x in sp.encode(sets[lang][0]))
        log("tokens %-3s: train %d, held out %d" % (lang, n_tr, len(tests[lang])))
    log("tokens all: train %d, held out %d" % (len(train_stream), len(test_all)))

    # --- model
    c = dict(CONFIG)
    model = LM(c)
    n_params = sum(p.numel() for p in model.parameters())
    log("model: llama, %s, %d parameters (tied output)" % (json.dumps(c), n_params))
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    gen = torch.Generator().manual_seed(args.seed)
    L = c["ctx"]
    # Windows start at a document's BOS, so position 0 is always BOS as in
    # generation; the stream is padded at the end to keep windows in range.
    valid = train_starts[train_starts + L + 1 <= len(train_stream)]
    ar = torch.arange(L + 1)
    warmup = min(100, max(1, args.steps // 10))
    log("training: %d steps x %d windows x %d tokens, AdamW lr %g (warmup %d, cosine to 10%%), wd 0.1, clip 1.0"
        % (args.steps, args.batch, L, args.lr, warmup))
    t_train = time.time()
    ema = None
    for step in range(args.steps):
        lr = lr_at(step, args.steps, args.lr, warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        pick = valid[torch.randint(len(valid), (args.batch,), generator=gen)]
        w = train_stream[pick[:, None] + ar[None, :]]
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 10 == 0 or step == args.steps - 1:
            el = time.time() - t_train
            log("step %5d  loss %.4f  (ema %.4f)  lr %.2e  %.0f s  %.0f tok/s" % (
                step, loss.item(), ema, lr, el, (step + 1) * args.batch * L / max(el, 1e-9)))
        if (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            nll, _ = eval_nll(model, test_all[:4096], L)
            log("eval  step %5d  held-out (first 4096 tokens) %.4f nats/token, ppl %.2f" % (step + 1, nll, math.exp(nll)))
            torch.save({"config": c, "model": model.state_dict(), "step": step + 1},
                       os.path.join(args.work, "model.pt"))
    t_end = time.time()
    log("training wall time: %.1f s (%.1f min); %d tokens seen (%.2f epochs)" % (
        t_end - t_train, (t_end - t_train) / 60, args.steps * args.batch * L,
        args.steps * args.batch * L / len(train_stream)))
    torch.save({"config": c, "model": model.state_dict(), "step": args.steps, "seed": args.seed},
               os.path.join(args.work, "model.pt"))

    # --- held-out perplexity
    log("held-out perplexity (windows of %d tokens, BOS doc EOS per document):" % L)
    for lang in ("en", "zh", "yue", "all"):
        s = test_all if lang == "all" else tests[lang]
        nll, n = eval_nll(model, s, L)
        log("  %-3s  %7d tokens  %.4f nats/token  ppl %.2f" % (lang, n, nll, math.exp(nll)))

    # --- samples (greedy, as llama.cpp with add_bos)
    log("greedy samples (BOS + prompt, 32 tokens, stop at EOS):")
    for p in PROMPTS:
        ids = [sp.bos_id()] + sp.encode(p)
        out = greedy(model, ids, 32, sp.eos_id())
        log("  prompt %r ids %s" % (p, ids))
        log("    -> ids %s" % out)
        log("    -> %r" % sp.decode(ids[1:] + [t for t in out if t != sp.eos_id()]))
    log("total wall time: %.1f s (%.1f min)" % (time.time() - t0, (time.time() - t0) / 60))


if __name__ == "__main__":
    main()
