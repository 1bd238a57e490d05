/*
 * fuzz_tokenizer.c - libFuzzer harness of the tokenizers on text. Five
 * tokenizers are built once from vocabularies written here (SentencePiece;
 * byte-level BPE with the default, gpt-2, llama3 and qwen2 pre-tokenizers).
 * The first input byte picks the tokenizer and the flags (add BOS, parse
 * special tokens); the rest is the text. Contract: invalid UTF-8 gives -1,
 * valid text gives ids in the vocabulary, and with special tokens not
 * parsed the pieces of the ids give the text back (SentencePiece: after the
 * space its prefix adds, with U+2581 read as a space).
 */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/gguf.h"
#include "llm/gguf_write.h"
#include "llm/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_TOK 5
static struct tokenizer *toks[N_TOK];

/* GPT-2's byte characters of @raw bytes as UTF-8 into @o. */
static void g2(const char *raw, size_t n, char *o)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned b = (unsigned char)raw[i], c;

		if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
			c = b;
		else if (b <= 0x20)
			c = 256 + b;
		else if (b <= 0xa0)
			c = 256 + 33 + (b - 0x7f);
		else
			c = 256 + 67;
		if (c < 0x80) {
			o[k++] = (char)c;
		} else {
			o[k++] = (char)(0xc0 | c >> 6);
			o[k++] = (char)(0x80 | (c & 0x3f));
		}
	}
	o[k] = '\0';
}

/* Letters whose pairs (and pairs of those pairs) merge. */
static const char alpha[] = "etaoin shrd'1\n";
#define NA (sizeof(alpha) - 1)

static struct tokenizer *build(int bpe, const char *pre)
{
	static char tokbuf[300 + NA * NA + NA + 16][16], mbuf[NA * NA][24];
	static char spmbuf[256][8];
	const char *tok[300 + NA * NA + NA + 16], *merges[NA * NA];
	float score[300 + NA * NA + NA + 16];
	int32_t type[300 + NA * NA + NA + 16];
	size_t n = 0, nm = 0;
	struct gguf_writer *w = gguf_writer_create();
	uint8_t *bytes;
	size_t size;
	struct gguf *g;
	struct tokenizer *t;
	char err[256];

	if (!bpe) {
		tok[n] = "<unk>", type[n] = 2, score[n++] = 0;
		tok[n] = "<s>", type[n] = 3, score[n++] = 0;
		tok[n] = "</s>", type[n] = 3, score[n++] = 0;
		for (int b = 0; b < 256; b++) {
			snprintf(spmbuf[b], sizeof(spmbuf[b]), "<0x%02X>", b);
			tok[n] = spmbuf[b], type[n] = 6, score[n++] = 0;
		}
	} else {
		for (int b = 0; b < 256; b++) {
			char raw = (char)b;

			g2(&raw, 1, tokbuf[n]);
			tok[n] = tokbuf[n], type[n] = 1, score[n++] = 0;
		}
	}
	for (size_t i = 0; i < NA; i++)
		for (size_t j = 0; j < NA; j++) {
			char raw[3] = {alpha[i], alpha[j], 0};

			if (bpe) {
				char l[8], r[8];

				g2(raw, 1, l);
				g2(raw + 1, 1, r);
				snprintf(mbuf[nm], sizeof(mbuf[nm]), "%s %s", l, r);
				merges[nm] = mbuf[nm];
				nm++;
				g2(raw, 2, tokbuf[n]);
			} else {
				/* SentencePiece writes a space as U+2581 */
				size_t k = 0;

				for (int c = 0; c < 2; c++) {
					if (raw[c] == ' ') {
						memcpy(tokbuf[n] + k, "\xe2\x96\x81", 3);
						k += 3;
					} else {
						tokbuf[n][k++] = raw[c];
					}
				}
				tokbuf[n][k] = '\0';
			}
			tok[n] = tokbuf[n], type[n] = 1,
			score[n++] = -(float)((i * 7 + j * 3) % 11);
		}
	if (!bpe) {
		for (size_t i = 0; i < NA; i++) {
			if (alpha[i] == ' ')
				strcpy(tokbuf[n], "\xe2\x96\x81");
			else
				snprintf(tokbuf[n], sizeof(tokbuf[n]), "%c", alpha[i]);
			tok[n] = tokbuf[n], type[n] = 1, score[n++] = -20;
		}
	}
	tok[n] = "<|im_start|>", type[n] = 3, score[n++] = 0;
	tok[n] = "<|im_end|>", type[n] = 3, score[n++] = 0;
	tok[n] = "<|user|>", type[n] = 4, score[n++] = 0;
	gguf_w_str(w, "tokenizer.ggml.model", bpe ? "gpt2" : "llama");
	if (pre)
		gguf_w_str(w, "tokenizer.ggml.pre", pre);
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, n);
	gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_VT_F32, score, n);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, type, n);
	if (bpe)
		gguf_w_arr_str(w, "tokenizer.ggml.merges", merges, nm);
	if (gguf_writer_bytes(w, &bytes, &size, err, sizeof(err)) ||
	    gguf_open_memory(bytes, size, "fuzz-vocab.gguf", &g, err, sizeof(err)) ||
	    tok_create(g, &t, err, sizeof(err))) {
		fprintf(stderr, "fuzz_tokenizer: %s\n", err);
		abort();
	}
	gguf_writer_destroy(w);
	gguf_close(g); /* the tokenizer keeps copies of what it needs */
	free(bytes);
	return t;
}

static int valid_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], k, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xc0 || c > 0xf4)
			return 0;
		k = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1; /* continuation bytes */
		if (i + k >= n)
			return 0;
		cp = c & (0x3fu >> k);
		for (unsigned j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tokenizer *t;
	int32_t *ids;
	int64_t n, cap;
	int sel, add_bos, special;
	const char *text;
	size_t len, k = 0;
	char *back, *want;

	if (!toks[0]) {
		toks[0] = build(0, NULL);
		toks[1] = build(1, "default");
		toks[2] = build(1, "gpt-2");
		toks[3] = build(1, "llama3");
		toks[4] = build(1, "qwen2");
	}
	if (size < 1)
		return 0;
	sel = data[0] % N_TOK;
	add_bos = (data[0] >> 3) & 1;
	special = (data[0] >> 4) & 1;
	t = toks[sel];
	text = (const char *)data + 1;
	len = size - 1;
	n = tok_encode(t, text, len, add_bos, special, NULL, 0);
	if (n < 0) {
		if (valid_utf8((const uint8_t *)text, len))
			__builtin_trap(); /* valid text refused */
		return 0;
	}
	if (!valid_utf8((const uint8_t *)text, len))
		__builtin_trap(); /* invalid text accepted */
	cap = n ? n : 1;
	ids = malloc((size_t)cap * sizeof(*ids));
	back = malloc(4 * len + 64 * (size_t)cap + 4);
	want = malloc(len + 2);
	if (!ids || !back || !want)
		abort();
	if (tok_encode(t, text, len, add_bos, special, ids, n) != n)
		__builtin_trap(); /* not deterministic */
	for (int64_t i = 0; i < n; i++) {
		int m;

		if (ids[i] < 0 || ids[i] >= tok_n_vocab(t))
			__builtin_trap();
		m = tok_piece(t, ids[i], back + k, 64);
		if (m < 0 || m > 64)
			__builtin_trap();
		k += (size_t)m;
	}
	if (!special && !add_bos) {
		size_t wn = 0;

		if (sel == 0 && len) {
			want[wn++] = ' ';
			for (size_t i = 0; i < len; i++) {
				if (i + 3 <= len && !memcmp(text + i, "\xe2\x96\x81", 3)) {
					want[wn++] = ' ';
					i += 2;
				} else {
					want[wn++] = text[i];
				}
			}
		} else if (sel != 0) {
			memcpy(want, text, len);
			wn = len;
		}
		/* SentencePiece: user-defined <|user|> starts a fresh ▁ prefix,
		 * so the exact text is only checked without it */
		if ((sel != 0 || !memmem(text, len, "<|user|>", 8)) &&
		    (k != wn || memcmp(back, want, wn) != 0))
			__builtin_trap(); /* no round trip */
	}
	free(ids);
	free(back);
	free(want);
	return 0;
}
