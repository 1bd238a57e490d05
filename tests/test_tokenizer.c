/*
 * test_tokenizer.c - the SentencePiece and byte-level BPE tokenizers
 * (host/llm/tokenizer.c) on tiny vocabularies written here with the GGUF
 * writer: ids worked out by hand (merge order, score ties, byte fallback,
 * each pre-tokenizer's splits, special tokens), round trips of random UTF-8
 * text, refusals of invalid UTF-8 and of bad tokenizer metadata.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/gguf.h"
#include "llm/gguf_write.h"
#include "llm/tokenizer.h"
#include "util.h"

/* ------------------------------------------------------------ building vocabularies */

struct vocab {
	struct gguf_writer *w;
	uint8_t *bytes;
	struct gguf *g;
	struct tokenizer *t;
};

static void vocab_open(struct vocab *v)
{
	size_t n;
	char err[512] = "";

	cr_assert_eq(gguf_writer_bytes(v->w, &v->bytes, &n, err, sizeof(err)), 0, "%s", err);
	gguf_writer_destroy(v->w);
	v->w = NULL;
	cr_assert_eq(gguf_open_memory(v->bytes, n, "vocab.gguf", &v->g, err, sizeof(err)), 0, "%s",
	             err);
	cr_assert_eq(tok_create(v->g, &v->t, err, sizeof(err)), 0, "%s", err);
}

static void vocab_close(struct vocab *v)
{
	tok_destroy(v->t);
	gguf_close(v->g);
	free(v->bytes);
}

/* Ids of @text (NUL-terminated) into @ids; the count. */
static int64_t enc(const struct tokenizer *t, const char *text, int add_bos, int special,
                   int32_t *ids, int64_t max)
{
	int64_t n = tok_encode(t, text, strlen(text), add_bos, special, ids, max);

	cr_assert(n >= 0, "encoding '%s' failed", text);
	cr_assert(n <= max, "'%s': %lld ids", text, (long long)n);
	return n;
}

static void expect(const struct tokenizer *t, const char *text, int add_bos, int special,
                   const int32_t *want, int64_t nwant)
{
	int32_t ids[256];
	int64_t n = enc(t, text, add_bos, special, ids, 256);
	char got[1024] = "", exp[1024] = "";

	for (int64_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " %d", ids[i]);
	for (int64_t i = 0; i < nwant; i++)
		snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), " %d", want[i]);
	cr_assert(n == nwant && !memcmp(ids, want, (size_t)n * sizeof(*ids)),
	          "'%s': got [%s ] want [%s ]", text, got, exp);
}
#define EXPECT(t, text, bos, sp, ...)                                                              \
	do {                                                                                       \
		int32_t want_[] = {__VA_ARGS__};                                                   \
		expect(t, text, bos, sp, want_, (int64_t)(sizeof(want_) / sizeof(want_[0])));      \
	} while (0)

/* The concatenated pieces of @ids. */
static char *decode(const struct tokenizer *t, const int32_t *ids, int64_t n, size_t *len)
{
	size_t cap = 64, k = 0;
	char *s = malloc(cap);

	for (int64_t i = 0; i < n; i++) {
		int m = tok_piece(t, ids[i], NULL, 0);

		cr_assert(m >= 0);
		if (k + (size_t)m + 1 > cap) {
			cap = 2 * (k + (size_t)m + 1);
			s = realloc(s, cap);
		}
		cr_assert_eq(tok_piece(t, ids[i], s + k, (size_t)m), m);
		k += (size_t)m;
	}
	s[k] = '\0';
	*len = k;
	return s;
}

/* --- SentencePiece: <unk> <s> </s>, the 256 byte tokens, then pieces */

#define SPM_BYTE(b) (3 + (b))
enum { SPM_FIRST = 259 };

static const char *const spm_pieces[] = {
    "\xe2\x96\x81",
    "h",
    "e",
    "l",
    "o",
    "w",
    "r",
    "d",
    "a",
    "ll",
    "llo",
    "he",
    "hello",
    "\xe2\x96\x81hello",
    "\xe2\x96\x81h",
    "or",
    "wor",
    "ld",
    "world",
    "\xe2\x96\x81world",
    "\xe2\x96\x81w",
    "aa",
    "香",
    "港",
    "香港",
    "<|user|>",
};
static const float spm_scores[] = {
    -5,    -6, -6,    -6,    -6,    -6,    -6,    -6, -6, -1, -1.5f, -2, -0.5f,
    -0.2f, -3, -2.5f, -2.2f, -2.6f, -0.4f, -0.3f, -4, -1, -3, -3,    -1, 0,
};
#define N_SPM_PIECES (sizeof(spm_pieces) / sizeof(spm_pieces[0]))
#define SPM_ID(k) (SPM_FIRST + (k))

static struct gguf_writer *spm_writer(void)
{
	struct gguf_writer *w = gguf_writer_create();
	const char *tok[SPM_FIRST + N_SPM_PIECES];
	static char bytes[256][8];
	float score[SPM_FIRST + N_SPM_PIECES];
	int32_t type[SPM_FIRST + N_SPM_PIECES];
	size_t n = 0;

	tok[n] = "<unk>", score[n] = 0, type[n++] = 2;
	tok[n] = "<s>", score[n] = 0, type[n++] = 3;
	tok[n] = "</s>", score[n] = 0, type[n++] = 3;
	for (int b = 0; b < 256; b++) {
		snprintf(bytes[b], sizeof(bytes[b]), "<0x%02X>", b);
		tok[n] = bytes[b], score[n] = 0, type[n++] = 6;
	}
	for (size_t k = 0; k < N_SPM_PIECES; k++)
		tok[n] = spm_pieces[k], score[n] = spm_scores[k], type[n++] = 1;
	type[n - 1] = 4; /* <|user|>: user-defined */
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, n);
	gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_VT_F32, score, n);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, type, n);
	gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1);
	gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2);
	gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0);
	return w;
}

/* --- byte-level BPE: the 256 byte characters (id = byte), then extras */

/* GPT-2's bytes_to_unicode, as its Python defines it. */
static uint32_t gpt2_char(uint8_t b)
{
	static uint32_t map[256];
	static int init;

	if (!init) {
		int keep[256] = {0}, n = 0;

		for (int c = '!'; c <= '~'; c++)
			keep[c] = 1;
		for (int c = 0xa1; c <= 0xac; c++)
			keep[c] = 1;
		for (int c = 0xae; c <= 0xff; c++)
			keep[c] = 1;
		for (int c = 0; c < 256; c++)
			map[c] = keep[c] ? (uint32_t)c : (uint32_t)(256 + n++);
		init = 1;
	}
	return map[b];
}

/* @raw bytes in GPT-2 characters (static buffer rotation of 8). */
static const char *g2(const char *raw)
{
	static char bufs[8][256];
	static int k;
	char *o = bufs[k++ % 8];
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
		uint32_t c = gpt2_char(*p);

		if (c < 0x80) {
			o[n++] = (char)c;
		} else {
			o[n++] = (char)(0xc0 | c >> 6);
			o[n++] = (char)(0x80 | (c & 0x3f));
		}
	}
	o[n] = '\0';
	return o;
}

/* Merges as raw "left right" pairs of byte strings; each adds the token
 * left+right (in order, from id 256). Then the control tokens. */
struct bpe_def {
	const char *pre;
	const char *const (*merges)[2];
	size_t n_merges;
};

static const char *const bpe_merges[][2] = {
    {"h", "e"},       {"l", "l"},           {"he", "ll"},
    {"hell", "o"}, /* 256-259 */
    {" ", "w"},       {"o", "r"},           {" w", "or"},
    {"l", "d"},       {" wor", "ld"}, /* 260-264 */
    {" ", " "},       {" ", "b"},           {"\n", "\n"},
    {"(", "h"},                                                               /* 265-268 */
    {"4", "5"},       {"3", "4"},                                             /* 269-270 */
    {"'", "M"},       {"\xe9", "\xa6"},     {"\xe9\xa6", "\x99"},             /* 271-273 */
    {"\xe6", "\xb8"}, {"\xe6\xb8", "\xaf"}, {"\xe9\xa6\x99", "\xe6\xb8\xaf"}, /* 274-276 香港 */
    {"a", "\xf0"},                                                            /* 277 */
};
#define N_BPE_MERGES (sizeof(bpe_merges) / sizeof(bpe_merges[0]))
enum { BPE_EOT = 256 + N_BPE_MERGES, BPE_IM_START, BPE_IM_END, BPE_N };

static struct gguf_writer *bpe_writer(const char *pre)
{
	struct gguf_writer *w = gguf_writer_create();
	static char tokbuf[BPE_N][64];
	static char mbuf[N_BPE_MERGES][64];
	const char *tok[BPE_N], *merges[N_BPE_MERGES];
	int32_t type[BPE_N];

	for (int b = 0; b < 256; b++) {
		char raw[2] = {(char)b, 0};

		if (b == 0) { /* g2 stops at NUL: byte 0 is U+0100 */
			strcpy(tokbuf[0], "\xc4\x80");
		} else {
			strcpy(tokbuf[b], g2(raw));
		}
		tok[b] = tokbuf[b];
		type[b] = 1;
	}
	for (size_t k = 0; k < N_BPE_MERGES; k++) {
		char both[64];

		snprintf(mbuf[k], sizeof(mbuf[k]), "%s %s", g2(bpe_merges[k][0]),
		         g2(bpe_merges[k][1]));
		merges[k] = mbuf[k];
		snprintf(both, sizeof(both), "%s%s", bpe_merges[k][0], bpe_merges[k][1]);
		strcpy(tokbuf[256 + k], g2(both));
		tok[256 + k] = tokbuf[256 + k];
		type[256 + k] = 1;
	}
	tok[BPE_EOT] = "<|endoftext|>";
	tok[BPE_IM_START] = "<|im_start|>";
	tok[BPE_IM_END] = "<|im_end|>";
	type[BPE_EOT] = type[BPE_IM_START] = type[BPE_IM_END] = 3;
	gguf_w_str(w, "general.architecture", "qwen2");
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	if (pre)
		gguf_w_str(w, "tokenizer.ggml.pre", pre);
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", tok, BPE_N);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, type, BPE_N);
	gguf_w_arr_str(w, "tokenizer.ggml.merges", merges, N_BPE_MERGES);
	gguf_w_u32(w, "tokenizer.ggml.bos_token_id", BPE_EOT);
	gguf_w_u32(w, "tokenizer.ggml.eos_token_id", BPE_IM_END);
	return w;
}

/* ------------------------------------------------------------ SentencePiece */

Test(tokenizer, spm_merges_by_score)
{
	struct vocab v = {.w = spm_writer()};

	vocab_open(&v);
	cr_assert_eq(tok_kind(v.t), TOK_SPM);
	cr_assert_eq(tok_n_vocab(v.t), SPM_FIRST + (int32_t)N_SPM_PIECES);
	cr_assert_eq(tok_bos(v.t), 1);
	cr_assert_eq(tok_eos(v.t), 2);
	cr_assert(tok_add_bos(v.t));
	/* ll, llo, he, hello, ▁hello; or, wor, ld, world, ▁world (worked out
	 * from the scores: the best-scored pair that is a token merges first) */
	EXPECT(v.t, "hello world", 0, 0, SPM_ID(13), SPM_ID(19));
	EXPECT(v.t, "hello world", 1, 0, 1, SPM_ID(13), SPM_ID(19));
	/* "aaa": both pairs score alike; the leftmost merges */
	EXPECT(v.t, "aaa", 0, 0, SPM_ID(0), SPM_ID(21), SPM_ID(8));
	/* a space run: each space is a ▁ of its own (no ▁▁ token) */
	EXPECT(v.t, "a  a", 0, 0, SPM_ID(0), SPM_ID(8), SPM_ID(0), SPM_ID(0), SPM_ID(8));
	/* empty text: nothing, or BOS alone */
	cr_assert_eq(tok_encode(v.t, "", 0, 0, 0, NULL, 0), 0);
	EXPECT(v.t, "", 1, 0, 1);
	/* byte fallback: é (C3 A9) and 咗 (E5 92 97) are no tokens */
	EXPECT(v.t, "é", 0, 0, SPM_ID(0), SPM_BYTE(0xc3), SPM_BYTE(0xa9));
	EXPECT(v.t, "香港咗", 0, 0, SPM_ID(0), SPM_ID(24), SPM_BYTE(0xe5), SPM_BYTE(0x92),
	       SPM_BYTE(0x97));
	/* a NUL and a newline in the text are bytes too */
	cr_assert_eq(tok_encode(v.t, "a\0\n", 3, 0, 0, NULL, 0), 4);
	vocab_close(&v);
}

Test(tokenizer, spm_special_tokens)
{
	struct vocab v = {.w = spm_writer()};

	vocab_open(&v);
	/* control tokens in the text: ids with special set, and the text after
	 * one gets a ▁ prefix of its own */
	EXPECT(v.t, "<s>hello", 0, 1, 1, SPM_ID(13));
	EXPECT(v.t, "hello</s>", 0, 1, SPM_ID(13), 2);
	/* without special: "<s>" is text; '<' 's' '>' are bytes */
	EXPECT(v.t, "<s>", 0, 0, SPM_ID(0), SPM_BYTE('<'), SPM_BYTE('s'), SPM_BYTE('>'));
	/* user-defined tokens are cut out either way */
	EXPECT(v.t, "<|user|>hello", 0, 0, SPM_ID(25), SPM_ID(13));
	EXPECT(v.t, "a<|user|>", 0, 0, SPM_ID(0), SPM_ID(8), SPM_ID(25));
	vocab_close(&v);
}

Test(tokenizer, spm_pieces)
{
	struct vocab v = {.w = spm_writer()};
	char buf[16];

	vocab_open(&v);
	cr_assert_eq(tok_piece(v.t, SPM_ID(13), buf, sizeof(buf)), 6);
	cr_assert(!memcmp(buf, " hello", 6));
	cr_assert_eq(tok_piece(v.t, SPM_BYTE('A'), buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], 'A');
	cr_assert_eq(tok_piece(v.t, SPM_BYTE(0xff), buf, sizeof(buf)), 1);
	cr_assert_eq((unsigned char)buf[0], 0xff);
	cr_assert_eq(tok_piece(v.t, 1, buf, sizeof(buf)), 0, "control: nothing");
	cr_assert_eq(tok_piece(v.t, 0, buf, sizeof(buf)), 0, "unknown: nothing");
	cr_assert_eq(tok_piece(v.t, SPM_ID(25), buf, sizeof(buf)), 8);
	cr_assert(!memcmp(buf, "<|user|>", 8));
	cr_assert_eq(tok_piece(v.t, SPM_ID(24), buf, 3), 6, "needs 6, wrote 3");
	cr_assert(!memcmp(buf, "香", 3));
	cr_assert_eq(tok_piece(v.t, -1, buf, sizeof(buf)), -1);
	cr_assert_eq(tok_piece(v.t, tok_n_vocab(v.t), buf, sizeof(buf)), -1);
	cr_assert_eq(tok_find(v.t, "香港"), SPM_ID(24));
	cr_assert_eq(tok_find(v.t, "<0x0A>"), SPM_BYTE('\n'));
	cr_assert_eq(tok_find(v.t, "nope"), -1);
	cr_assert(tok_is_eog(v.t, 2));
	cr_assert(!tok_is_eog(v.t, 1));
	cr_assert(!tok_is_eog(v.t, -5));
	vocab_close(&v);
}

/* add_space_prefix false and add_bos false from the metadata. */
Test(tokenizer, spm_options)
{
	struct vocab v = {.w = spm_writer()};

	gguf_w_bool(v.w, "tokenizer.ggml.add_space_prefix", 0);
	gguf_w_bool(v.w, "tokenizer.ggml.add_bos_token", 0);
	vocab_open(&v);
	cr_assert(!tok_add_bos(v.t));
	EXPECT(v.t, "hello world", 1, 0, SPM_ID(12), SPM_ID(19));
	vocab_close(&v);
}

/* ------------------------------------------------------------ byte-level BPE */

Test(tokenizer, bpe_merges_by_rank)
{
	const char *pres[] = {NULL, "default", "gpt-2", "llama-bpe", "llama3", "qwen2"};

	for (size_t i = 0; i < sizeof(pres) / sizeof(pres[0]); i++) {
		struct vocab v = {.w = bpe_writer(pres[i])};

		vocab_open(&v);
		cr_assert_eq(tok_kind(v.t), TOK_BPE);
		EXPECT(v.t, "hello world", 0, 0, 259, 264);
		/* 香港 = E9 A6 99 E6 B8 AF, merged to one token */
		EXPECT(v.t, "香港", 0, 0, 276);
		/* llama3 adds BOS by default, the others not */
		if (pres[i] && !strncmp(pres[i], "llama", 5)) {
			cr_assert(tok_add_bos(v.t));
			EXPECT(v.t, "hello", 1, 0, BPE_EOT, 259);
		} else {
			cr_assert(!tok_add_bos(v.t));
			EXPECT(v.t, "hello", 1, 0, 259);
		}
		vocab_close(&v);
	}
}

static struct tokenizer *bpe_open(struct vocab *v, const char *pre)
{
	v->w = bpe_writer(pre);
	vocab_open(v);
	return v->t;
}

/* Each pre-tokenizer's splits, seen through merges that would cross them. */
Test(tokenizer, bpe_pretokenizers)
{
	struct vocab d, g, l, q;
	struct tokenizer *td = bpe_open(&d, "default"), *tg = bpe_open(&g, "gpt-2"),
	                 *tl = bpe_open(&l, "llama3"), *tq = bpe_open(&q, "qwen2");

	/* digits: gpt-2 one run ("4 5" ranks before "3 4"); default and
	 * llama3 threes (234|5); qwen2 one by one */
	EXPECT(tg, "2345", 0, 0, '2', '3', 269);
	EXPECT(td, "2345", 0, 0, '2', 270, '5');
	EXPECT(tl, "2345", 0, 0, '2', 270, '5');
	EXPECT(tq, "2345", 0, 0, '2', '3', '4', '5');
	/* two spaces before a word: " " then " b", never "  " */
	EXPECT(tg, "a  b", 0, 0, 'a', ' ', 266);
	EXPECT(tl, "a  b", 0, 0, 'a', ' ', 266);
	EXPECT(tq, "a  b", 0, 0, 'a', ' ', 266);
	/* trailing spaces stay one word */
	EXPECT(tl, "a  ", 0, 0, 'a', 265);
	/* newlines: llama3/qwen2 keep "\n\n" whole, gpt-2 splits them */
	EXPECT(tl, "a\n\nb", 0, 0, 'a', 267, 'b');
	EXPECT(tq, "a\n\nb", 0, 0, 'a', 267, 'b');
	EXPECT(tg, "a\n\nb", 0, 0, 'a', '\n', '\n', 'b');
	/* one non-letter before letters joins them in llama3/qwen2 */
	EXPECT(tl, "(h", 0, 0, 268);
	EXPECT(tq, "(h", 0, 0, 268);
	EXPECT(tg, "(h", 0, 0, '(', 'h');
	EXPECT(td, "(h", 0, 0, '(', 'h');
	/* (inside the word "(he", "h e" ranks first: no "(h") */
	EXPECT(tl, "(he", 0, 0, '(', 256);
	/* contractions: case-insensitive in llama3/qwen2 only */
	EXPECT(tl, "I'M", 0, 0, 'I', 271);
	EXPECT(tq, "I'M", 0, 0, 'I', 271);
	EXPECT(tg, "I'M", 0, 0, 'I', '\'', 'M');
	EXPECT(tg, "I'm", 0, 0, 'I', '\'', 'm');
	/* U+31350 (CJK extension H, Unicode 15) is a letter, as in
	 * llama.cpp's tables, though PCRE2 10.42 knows Unicode 14 only: "a"
	 * and it make one word, and "a" merges with its first byte */
	EXPECT(tg, "a\xf0\xb1\x8d\x90", 0, 0, 277, 0xb1, 0x8d, 0x90);
	EXPECT(tg, "a\xf0\x9f\x98\x80", 0, 0, 'a', 0xf0, 0x9f, 0x98, 0x80); /* an emoji is not */
	/* llama3 takes a word that is a token whole (ignore_merges): "hello"
	 * is; and the same through merges elsewhere */
	EXPECT(tl, "hello", 0, 0, 259);
	vocab_close(&d);
	vocab_close(&g);
	vocab_close(&l);
	vocab_close(&q);
}

Test(tokenizer, bpe_special_tokens)
{
	struct vocab v;
	struct tokenizer *t = bpe_open(&v, "qwen2");
	char buf[32];
	int32_t ids[64];

	EXPECT(t, "<|im_start|>hello<|im_end|>", 0, 1, BPE_IM_START, 259, BPE_IM_END);
	EXPECT(t, "<|im_start|><|im_end|>", 0, 1, BPE_IM_START, BPE_IM_END);
	/* without special: the text's bytes */
	cr_assert_eq(enc(t, "<|im_end|>", 0, 0, ids, 64), 10);
	cr_assert_eq(ids[0], '<');
	cr_assert(tok_is_eog(t, BPE_IM_END));
	cr_assert(tok_is_eog(t, BPE_EOT), "<|endoftext|> ends generation");
	cr_assert(!tok_is_eog(t, BPE_IM_START));
	cr_assert(!tok_is_eog(t, 259));
	cr_assert_eq(tok_eos(t), BPE_IM_END);
	cr_assert_eq(tok_piece(t, BPE_IM_START, buf, sizeof(buf)), 0);
	cr_assert_eq(tok_piece(t, 264, buf, sizeof(buf)), 6);
	cr_assert(!memcmp(buf, " world", 6));
	cr_assert_eq(tok_piece(t, 10, buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], '\n');
	cr_assert_eq(tok_piece(t, 0, buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], '\0');
	cr_assert_eq(tok_find(t, "<|im_end|>"), BPE_IM_END);
	/* fewer slots than ids: the count needed, @max written */
	memset(ids, 0x55, sizeof(ids));
	cr_assert_eq(tok_encode(t, "hello world", 11, 0, 0, ids, 1), 2);
	cr_assert_eq(ids[0], 259);
	cr_assert_eq(ids[1], 0x55555555);
	vocab_close(&v);
}

/* Special tokens are cut out at character boundaries only: a token whose
 * text is part of a character (here the last two bytes of 咗, E5 92 97)
 * never splits one. Found by fuzz_gguf (such a split made valid text fail). */
Test(tokenizer, special_tokens_whole_characters)
{
	struct vocab v = {.w = gguf_writer_create()};
	static char buf[256][4];
	const char *tok[258];
	int32_t type[258];
	const char *none[1] = {"a b"};

	for (int b = 0; b < 256; b++) {
		char raw[2] = {(char)b, 0};

		strcpy(buf[b], b ? g2(raw) : "\xc4\x80");
		tok[b] = buf[b];
		type[b] = 1;
	}
	tok[256] = "\x92\x97";
	tok[257] = "佢";
	type[256] = type[257] = 4; /* user-defined: cut out even without special */
	gguf_w_str(v.w, "tokenizer.ggml.model", "gpt2");
	gguf_w_str(v.w, "tokenizer.ggml.pre", "qwen2");
	gguf_w_arr_str(v.w, "tokenizer.ggml.tokens", tok, 258);
	gguf_w_arr(v.w, "tokenizer.ggml.token_type", GGUF_VT_I32, type, 258);
	gguf_w_arr_str(v.w, "tokenizer.ggml.merges", none, 0);
	vocab_open(&v);
	EXPECT(v.t, "咗", 0, 0, 0xe5, 0x92, 0x97);
	EXPECT(v.t, "咗佢咗", 0, 0, 0xe5, 0x92, 0x97, 257, 0xe5, 0x92, 0x97);
	vocab_close(&v);
}

/* ------------------------------------------------------------ round trips, refusals */

static const char *const pool[] = {
    "a",
    "Z",
    "0",
    "7",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\t",
    ".",
    ",",
    "'s",
    "'LL",
    "!",
    "?",
    "(",
    "香",
    "港",
    "咗",
    "嘅",
    "唔",
    "佢",
    "啲",
    "你",
    "好",
    "，",
    "。",
    "😀",
    "🇭🇰",
    "é",
    "ß",
    "Ω",
    "\xe2\x96\x81",
    "\xc2\xa0",
    "\xe3\x80\x80",
    "١",
    "Ⅻ",
    "<s>",
    "<|im_end|>",
    "\x01",
    "\x7f",
    "hello",
    " world",
    "123456",
};

/* Random strings of pool pieces and random code points. */
static size_t random_text(struct rng *r, char *s, size_t cap)
{
	size_t n = 0;
	int parts = (int)rng_range(r, 0, 40);

	for (int i = 0; i < parts && n + 8 < cap; i++) {
		if (rng_range(r, 0, 3)) {
			const char *p = pool[rng_range(r, 0, sizeof(pool) / sizeof(pool[0]) - 1)];

			if (n + strlen(p) >= cap)
				break;
			memcpy(s + n, p, strlen(p));
			n += strlen(p);
		} else {
			uint32_t c = (uint32_t)rng_range(r, 1, 0x10ffff);

			if (c >= 0xd800 && c <= 0xdfff)
				c = 0x4e2d;
			if (c < 0x80) {
				s[n++] = (char)c;
			} else if (c < 0x800) {
				s[n++] = (char)(0xc0 | c >> 6);
				s[n++] = (char)(0x80 | (c & 0x3f));
			} else if (c < 0x10000) {
				s[n++] = (char)(0xe0 | c >> 12);
				s[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
				s[n++] = (char)(0x80 | (c & 0x3f));
			} else {
				s[n++] = (char)(0xf0 | c >> 18);
				s[n++] = (char)(0x80 | ((c >> 12) & 0x3f));
				s[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
				s[n++] = (char)(0x80 | (c & 0x3f));
			}
		}
	}
	s[n] = '\0';
	return n;
}

/* decode(encode(text)) == text (SentencePiece: with the ▁ prefix's space);
 * every pre-tokenizer; special parsing off, so every byte is text. */
Test(tokenizer, round_trips)
{
	struct vocab v[5];
	struct rng r;

	rng_init(&r, test_seed("tokenizer round_trips"));
	v[0].w = spm_writer();
	v[1].w = bpe_writer("default");
	v[2].w = bpe_writer("gpt-2");
	v[3].w = bpe_writer("llama3");
	v[4].w = bpe_writer("qwen2");
	for (int k = 0; k < 5; k++)
		vocab_open(&v[k]);
	for (int it = 0; it < 3000; it++) {
		char text[512];
		size_t n = random_text(&r, text, sizeof(text)), dn;

		for (int k = 0; k < 5; k++) {
			int32_t ids[1024];
			int64_t m = tok_encode(v[k].t, text, n, 0, 0, ids, 1024);
			char *d;

			cr_assert(m >= 0 && m <= 1024, "vocab %d: '%s'", k, text);
			d = decode(v[k].t, ids, m, &dn);
			if (k == 0) {
				/* a ▁ in the text reads back as the space it stands for */
				char want[520] = " ";
				size_t wn = 1;

				for (size_t j = 0; j < n; j++) {
					if (j + 3 <= n && !memcmp(text + j, "\xe2\x96\x81", 3)) {
						want[wn++] = ' ';
						j += 2;
					} else {
						want[wn++] = text[j];
					}
				}
				cr_assert(n == 0 ? dn == 0 : (dn == wn && !memcmp(d, want, wn)),
				          "spm: '%s' -> '%s'", text, d);
			} else {
				cr_assert(dn == n && !memcmp(d, text, n), "vocab %d: '%s' -> '%s'",
				          k, text, d);
			}
			free(d);
		}
	}
	for (int k = 0; k < 5; k++)
		vocab_close(&v[k]);
}

Test(tokenizer, invalid_utf8_refused)
{
	struct vocab s = {.w = spm_writer()}, b;
	const char *bad[] = {
	    "\xff",
	    "a\xfe",
	    "\x80",
	    "\xc3",
	    "abc\xe9\xa6",
	    "\xc0\xaf",
	    "\xc1\xbf",
	    "\xe0\x80\xaf",
	    "\xed\xa0\x80",
	    "\xed\xbf\xbf",
	    "\xf4\x90\x80\x80",
	    "\xf5\x80\x80\x80",
	    "\xf0\x8f\xbf\xbf",
	    "香\xe6\xb8",
	    "ok\xc3(",
	};
	int32_t ids[16];

	vocab_open(&s);
	bpe_open(&b, "llama3");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(tok_encode(s.t, bad[i], strlen(bad[i]), 1, 1, ids, 16), -1, "%zu", i);
		cr_assert_eq(tok_encode(b.t, bad[i], strlen(bad[i]), 1, 1, ids, 16), -1, "%zu", i);
	}
	/* the edges of the valid range are accepted */
	cr_assert(tok_encode(b.t, "\xf4\x8f\xbf\xbf\xee\x80\x80\xed\x9f\xbf", 10, 0, 0, ids, 16) >
	          0);
	vocab_close(&s);
	vocab_close(&b);
}

static void refused_meta(struct gguf_writer *w, const char *what)
{
	uint8_t *bytes;
	size_t n;
	struct gguf *g;
	struct tokenizer *t = NULL;
	char err[512] = "";

	cr_assert_eq(gguf_writer_bytes(w, &bytes, &n, err, sizeof(err)), 0, "%s", err);
	gguf_writer_destroy(w);
	cr_assert_eq(gguf_open_memory(bytes, n, "m.gguf", &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tok_create(g, &t, err, sizeof(err)), -1, "accepted (wanted '%s')", what);
	cr_assert_null(t);
	cr_assert(strstr(err, "m.gguf: ") == err && strstr(err, what), "'%s' lacks '%s'", err,
	          what);
	gguf_close(g);
	free(bytes);
}

Test(tokenizer, bad_metadata_refused)
{
	struct gguf_writer *w;
	const char *two[] = {"a", "b"}, *dup[] = {"a", "b", "a"};
	float sc1[1] = {0};
	int32_t ty[2] = {1, 1};
	uint8_t u8[2] = {1, 1};

	w = gguf_writer_create();
	gguf_w_str(w, "general.architecture", "llama");
	refused_meta(w, "no tokenizer");
	w = gguf_writer_create();
	gguf_w_u32(w, "tokenizer.ggml.model", 1);
	refused_meta(w, "no tokenizer");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "bert");
	refused_meta(w, "tokenizer model 'bert' is not supported");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	gguf_w_str(w, "tokenizer.ggml.pre", "falcon");
	refused_meta(w, "pre-tokenizer 'falcon' is not supported");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	refused_meta(w, "no tokenizer.ggml.tokens");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_str(w, "tokenizer.ggml.tokens", "a");
	refused_meta(w, "not an array of strings");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", two, 0);
	refused_meta(w, "has 0 tokens");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", two, 2);
	gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_VT_F32, sc1, 1);
	refused_meta(w, "tokenizer.ggml.scores");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", two, 2);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_U8, u8, 2);
	refused_meta(w, "tokenizer.ggml.token_type");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", two, 2);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, ty, 1);
	refused_meta(w, "tokenizer.ggml.token_type");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", dup, 3);
	refused_meta(w, "token 2 ('a') appears twice");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", two, 2);
	refused_meta(w, "no tokenizer.ggml.merges");
	w = gguf_writer_create();
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", two, 2);
	gguf_w_arr(w, "tokenizer.ggml.merges", GGUF_VT_I32, ty, 2);
	refused_meta(w, "tokenizer.ggml.merges is not an array of strings");
}

/* Special ids out of range keep their defaults; empty tokens are named as
 * llama.cpp names them; a minimal vocabulary works. */
Test(tokenizer, lenient_metadata)
{
	struct vocab v = {.w = gguf_writer_create()};
	const char *tok[] = {"", "a", "b"};
	int32_t ids[8];

	gguf_w_str(v.w, "tokenizer.ggml.model", "llama");
	gguf_w_arr_str(v.w, "tokenizer.ggml.tokens", tok, 3);
	gguf_w_u32(v.w, "tokenizer.ggml.bos_token_id", 99);
	gguf_w_u32(v.w, "tokenizer.ggml.eos_token_id", 7);
	vocab_open(&v);
	cr_assert_eq(tok_bos(v.t), 1, "default 1 kept");
	cr_assert_eq(tok_eos(v.t), 2, "default 2 kept");
	cr_assert_eq(tok_find(v.t, "[EMPTY_0]"), 0);
	/* no ▁ and no byte tokens: unknown characters become <unk> (id 0) */
	cr_assert_eq(tok_encode(v.t, "ab", 2, 0, 0, ids, 8), 3);
	cr_assert(ids[0] == 0 && ids[1] == 1 && ids[2] == 2, "%d %d %d", ids[0], ids[1], ids[2]);
	vocab_close(&v);
}
