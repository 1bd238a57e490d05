/*
 * tokenizer.c - SentencePiece and byte-level BPE tokenizers from GGUF
 * metadata (see tokenizer.h), giving llama.cpp's token ids.
 *
 * What llama.cpp does, and so what this file does (read from llama.cpp's
 * src/llama-vocab.cpp and src/unicode.cpp; written anew here):
 *
 *  - Special tokens first: the text is cut at every occurrence of a
 *    control, user-defined or unknown token (longest texts first; control
 *    and unknown ones only when @special is set), and those pieces become
 *    their ids directly. (Here only occurrences made of whole characters:
 *    llama.cpp would also cut inside one and then fail on the pieces.)
 *  - SentencePiece ("llama"): each remaining piece, with a leading space
 *    when add_space_prefix is set and the piece starts the text or follows
 *    a special token, has its spaces replaced by U+2581; it is split into
 *    characters and adjacent pairs are merged while the pair's text is a
 *    token, the best score first (ties: leftmost); characters left that
 *    are no token become byte tokens <0xNN>.
 *  - Byte-level BPE ("gpt2"): each piece is split into words by the
 *    pre-tokenizer of tokenizer.ggml.pre (the regular expressions below,
 *    as llama.cpp runs them); each word's bytes are mapped to GPT-2's
 *    printable characters (bytes_to_unicode) and merged pairwise by merge
 *    rank (lowest first; ties: leftmost). llama3 takes a word that is a
 *    token whole (ignore_merges).
 *
 * Unicode categories (letters \p{L}, numbers \p{N}, punctuation \p{P})
 * come from Debian's libpcre2 (its Unicode tables), computed once into a
 * table of all code points, plus the code points Unicode 15.0 and 15.1
 * added; white space is Unicode's White_Space list.
 */
#include "tokenizer.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Token attributes (llama.cpp's token types mapped to bits). */
enum {
	ATTR_UNDEFINED = 1 << 0,
	ATTR_NORMAL = 1 << 1,
	ATTR_UNKNOWN = 1 << 2,
	ATTR_CONTROL = 1 << 3,
	ATTR_USER_DEFINED = 1 << 4,
	ATTR_UNUSED = 1 << 5,
	ATTR_BYTE = 1 << 6,
};

/* Pre-tokenizers of byte-level BPE. */
enum pre { PRE_DEFAULT, PRE_GPT2, PRE_LLAMA3, PRE_QWEN2 };

struct tok_entry {
	uint64_t off; /* in arena */
	uint32_t len;
	float score;
	uint8_t attr;
};

struct merge {
	uint64_t off; /* "left right" in marena */
	uint32_t llen, rlen;
	int32_t rank; /* its index in tokenizer.ggml.merges */
};

struct tokenizer {
	enum tok_kind kind;
	enum pre pre;
	int32_t n;
	char *arena;
	struct tok_entry *tok;
	uint32_t *ht; /* open addressing: id + 1, 0 empty */
	uint64_t ht_mask;

	char *marena;
	struct merge *mg;
	uint32_t n_mg;
	uint32_t *mht; /* index in mg + 1, 0 empty */
	uint64_t mht_mask;

	int32_t *special; /* control/user-defined/unknown ids, longest first */
	int32_t n_special;
	uint8_t *eog;
	int32_t bos, eos, unk;
	int add_bos, add_eos, add_space_prefix, ignore_merges;
	int32_t byte_tok[256]; /* the token of each byte (-1: none) */
};

/* ------------------------------------------------------------ Unicode */

enum { U_L = 1, U_N = 2, U_P = 4, U_WS = 8, U_IN = 16 /* a position inside the piece */ };
#define U_MAX 0x110000u

static uint8_t *u_flags; /* U_MAX entries */
static pthread_once_t u_once = PTHREAD_ONCE_INIT;

/* Unicode's White_Space property (PropList.txt). */
static const uint32_t white_space[] = {
    0x09,   0x0a,   0x0b,   0x0c,   0x0d,   0x20,   0x85,   0xa0,   0x1680,
    0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
    0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
};

static size_t utf8_put(uint32_t c, char *o)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Decodes one valid UTF-8 character at @s (of @n bytes left): its length,
 * or 0 if the bytes there are not valid UTF-8 (overlong forms, surrogates,
 * past U+10FFFF, cut short). */
static size_t utf8_get(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		if (n < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		*cp = (c & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		*cp = (c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		if (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		*cp = (c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		      (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		if (*cp < 0x10000 || *cp >= U_MAX)
			return 0;
		return 4;
	}
	return 0;
}

/* Code points assigned in Unicode 15.0 and 15.1 that PCRE2 10.42 (Unicode
 * 14) does not know, with their category (UnicodeData.txt): letters, digits
 * and punctuation of Kawi, Nag Mundari, Kaktovik numerals, Cyrillic
 * Extended-D, Devanagari Extended-A, CJK extensions H and I and a few
 * more. llama.cpp's tables are of Unicode 15.1; with these the two agree
 * on the L, N, P and white space of every code point. */
static const struct {
	uint32_t lo, hi;
	uint8_t flag;
} u_newer[] = {
    {0x1123f, 0x11240, U_L}, {0x11b00, 0x11b09, U_P}, {0x11f02, 0x11f02, U_L},
    {0x11f04, 0x11f10, U_L}, {0x11f12, 0x11f33, U_L}, {0x11f43, 0x11f4f, U_P},
    {0x11f50, 0x11f59, U_N}, {0x1342f, 0x1342f, U_L}, {0x13441, 0x13446, U_L},
    {0x1b132, 0x1b132, U_L}, {0x1b155, 0x1b155, U_L}, {0x1d2c0, 0x1d2d3, U_N},
    {0x1df25, 0x1df2a, U_L}, {0x1e030, 0x1e06d, U_L}, {0x1e4d0, 0x1e4eb, U_L},
    {0x1e4f0, 0x1e4f9, U_N}, {0x2b739, 0x2b739, U_L}, {0x2ebf0, 0x2ee5d, U_L},
    {0x31350, 0x323af, U_L},
};

/* Fills u_flags: the text of every code point (surrogates left out) is
 * matched once against \p{L}+, \p{N}+ and \p{P}+ runs. On failure (out of
 * memory, no PCRE2) the table stays NULL and tok_create refuses. */
static void u_init(void)
{
	static const char pat[] = "(\\p{L}+)|(\\p{N}+)|(\\p{P}+)";
	uint8_t *fl = calloc(U_MAX, 1);
	char *buf = malloc((size_t)U_MAX * 4);
	size_t len = 0, off = 0;
	pcre2_code *re;
	pcre2_match_data *md;
	int errc;
	PCRE2_SIZE erro;

	if (!fl || !buf)
		goto err_free;
	for (uint32_t c = 1; c < U_MAX; c++)
		if (c < 0xd800 || c > 0xdfff)
			len += utf8_put(c, buf + len);
	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &errc,
	                   &erro, NULL);
	if (!re)
		goto err_free;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md) {
		pcre2_code_free(re);
		goto err_free;
	}
	while (off < len) {
		int rc = pcre2_match(re, (PCRE2_SPTR)buf, len, off, PCRE2_NO_UTF_CHECK, md, NULL);
		PCRE2_SIZE *ov;
		uint8_t f;

		if (rc < 0)
			break;
		ov = pcre2_get_ovector_pointer(md);
		f = (rc >= 2 && ov[2] != PCRE2_UNSET)   ? U_L
		    : (rc >= 3 && ov[4] != PCRE2_UNSET) ? U_N
		                                        : U_P;
		for (size_t p = ov[0]; p < ov[1];) {
			uint32_t cp = 0;
			size_t k = utf8_get((const unsigned char *)buf + p, ov[1] - p, &cp);

			if (!k)
				break;
			fl[cp] |= f;
			p += k;
		}
		off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	for (size_t i = 0; i < sizeof(u_newer) / sizeof(u_newer[0]); i++)
		for (uint32_t c = u_newer[i].lo; c <= u_newer[i].hi; c++)
			if (!(fl[c] & (U_L | U_N | U_P)))
				fl[c] |= u_newer[i].flag;
	for (size_t i = 0; i < sizeof(white_space) / sizeof(white_space[0]); i++)
		fl[white_space[i]] |= U_WS;
	free(buf);
	u_flags = fl;
	return;
err_free:
	free(buf);
	free(fl);
}

/* ------------------------------------------------------------ helpers */

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && err_len)
		vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t hash2(const char *a, size_t an, const char *b, size_t bn)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < an; i++)
		h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
	if (b) {
		h = (h ^ 0x1ff) * 1099511628211ull; /* a separator no byte equals */
		for (size_t i = 0; i < bn; i++)
			h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
	}
	return h;
}

static int32_t lookup(const struct tokenizer *t, const char *s, size_t n)
{
	for (uint64_t h = hash2(s, n, NULL, 0) & t->ht_mask;; h = (h + 1) & t->ht_mask) {
		uint32_t v = t->ht[h];
		const struct tok_entry *e;

		if (!v)
			return -1;
		e = &t->tok[v - 1];
		if (e->len == n && memcmp(t->arena + e->off, s, n) == 0)
			return (int32_t)(v - 1);
	}
}

/* The rank of merging @a and @b; -1 if none. */
static int32_t merge_rank(const struct tokenizer *t, const char *a, size_t an, const char *b,
                          size_t bn)
{
	if (!t->mht)
		return -1;
	for (uint64_t h = hash2(a, an, b, bn) & t->mht_mask;; h = (h + 1) & t->mht_mask) {
		uint32_t v = t->mht[h];
		const struct merge *m;
		const char *s;

		if (!v)
			return -1;
		m = &t->mg[v - 1];
		s = t->marena + m->off;
		if (m->llen == an && m->rlen == bn && memcmp(s, a, an) == 0 &&
		    memcmp(s + an + 1, b, bn) == 0)
			return m->rank;
	}
}

static uint64_t table_size(uint64_t n)
{
	uint64_t s = 16;

	while (s < 2 * n)
		s *= 2;
	return s;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the others (0-32, 127-160, 173) map to U+0100 upwards in order. */
static uint32_t byte_to_cp(uint8_t b)
{
	if (b <= 0x20)
		return 256 + b; /* 33 of them: U+0100..U+0120 */
	if (b >= 0x7f && b <= 0xa0)
		return 256 + 33 + (b - 0x7f); /* 34: U+0121..U+0142 */
	if (b == 0xad)
		return 256 + 33 + 34; /* U+0143 */
	return b;
}

/* The byte a code point of a byte-level BPE token stands for; -1 if none. */
static int cp_to_byte(uint32_t cp)
{
	if (cp < 256)
		return byte_to_cp((uint8_t)cp) == cp ? (int)cp : -1;
	if (cp <= 0x120)
		return (int)(cp - 256);
	if (cp <= 0x142)
		return (int)(cp - 256 - 33 + 0x7f);
	return cp == 0x143 ? 0xad : -1;
}

/* A growing array of ids. */
struct ids {
	int32_t *p;
	size_t n, cap;
	int oom;
};

static void push(struct ids *v, int32_t id)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		int32_t *q = realloc(v->p, cap * sizeof(*q));

		if (!q) {
			v->oom = 1;
			return;
		}
		v->p = q;
		v->cap = cap;
	}
	v->p[v->n++] = id;
}

/* ------------------------------------------------------------ creation */

static const char *const eog_texts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
};

/* Texts llama.cpp takes for end-of-turn and fill-in-the-middle tokens:
 * they become control tokens (and FIM pad/repo/sep end generation). */
static const char *const eot_texts[] = {
    "<|eot_id|>",         "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",    "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
};
static const char *const fim_eog_texts[] = {
    "<|fim_pad|>",   "<fim-pad>",  "<fim_pad>", "<PAD>",      "[PAD]",        "<|fim_repo|>",
    "<|repo_name|>", "<fim-repo>", "<REPO>",    "<reponame>", "<|file_sep|>",
};
static const char *const fim_other_texts[] = {
    "<|fim_prefix|>", "<fim-prefix>",      "<fim_prefix>",    "<｜fim▁begin｜>",
    "<PRE>",          "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>",
    "<|fim_suffix|>", "<fim-suffix>",      "<fim_suffix>",    "<｜fim▁hole｜>",
    "<SUF>",          "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>",
    "<|fim_middle|>", "<fim-middle>",      "<fim_middle>",    "<｜fim▁end｜>",
    "<MID>",          "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>",
    "<|eom_id|>",
};

static int in_list(const char *s, size_t n, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
			return 1;
	return 0;
}
#define IN_LIST(s, n, l) in_list(s, n, l, sizeof(l) / sizeof(l[0]))

struct len_id {
	uint32_t len;
	int32_t id;
};

/* Longest first; equal lengths by id. */
static int cmp_special(const void *a, const void *b)
{
	const struct len_id *x = a, *y = b;

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* A special-token id from @key: kept at @id (the default) when absent or
 * out of range, as llama.cpp does. */
static void special_id(const struct gguf *g, const char *key, int32_t n, int32_t *id)
{
	uint64_t v;

	if (*id >= n)
		*id = -1;
	if (gguf_get_uint(g, key, &v) == 0 && v < (uint64_t)n)
		*id = (int32_t)v;
}

static int load_vocab(struct tokenizer *t, const struct gguf *g, const char *name, char *err,
                      size_t err_len)
{
	const struct gguf_kv *tk = gguf_find(g, "tokenizer.ggml.tokens");
	const struct gguf_kv *sc = gguf_find(g, "tokenizer.ggml.scores");
	const struct gguf_kv *ty = gguf_find(g, "tokenizer.ggml.token_type");
	uint64_t total = 0, n;

	if (!tk)
		return fail(err, err_len, "%s: no tokenizer.ggml.tokens", name);
	if (tk->type != GGUF_VT_ARRAY || tk->v.arr.type != GGUF_VT_STRING)
		return fail(err, err_len, "%s: tokenizer.ggml.tokens is not an array of strings",
		            name);
	n = tk->v.arr.n;
	if (n == 0 || n > INT32_MAX - 1)
		return fail(err, err_len, "%s: tokenizer.ggml.tokens has %llu tokens", name,
		            (unsigned long long)n);
	if (sc &&
	    (sc->type != GGUF_VT_ARRAY ||
	     (sc->v.arr.type != GGUF_VT_F32 && sc->v.arr.type != GGUF_VT_I32) || sc->v.arr.n < n))
		return fail(err, err_len,
		            "%s: tokenizer.ggml.scores is not an array of f32 or i32 with a score "
		            "for each of the %llu tokens",
		            name, (unsigned long long)n);
	if (ty && (ty->type != GGUF_VT_ARRAY || ty->v.arr.type != GGUF_VT_I32 || ty->v.arr.n < n))
		return fail(err, err_len,
		            "%s: tokenizer.ggml.token_type is not an array of i32 with a type for "
		            "each of the %llu tokens",
		            name, (unsigned long long)n);
	t->n = (int32_t)n;
	for (uint64_t i = 0; i < n; i++) {
		struct gguf_str s = gguf_arr_str(tk, i);

		if (s.len > UINT32_MAX / 2)
			return fail(err, err_len, "%s: token %llu is too long", name,
			            (unsigned long long)i);
		total += s.len ? s.len : 24;
	}
	t->arena = malloc(total ? total : 1);
	t->tok = calloc(n, sizeof(*t->tok));
	t->ht_mask = table_size(n) - 1;
	t->ht = calloc(t->ht_mask + 1, sizeof(*t->ht));
	t->eog = calloc(n, 1);
	if (!t->arena || !t->tok || !t->ht || !t->eog)
		return fail(err, err_len, "%s: out of memory", name);
	total = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct gguf_str s = gguf_arr_str(tk, i);
		struct tok_entry *e = &t->tok[i];
		uint64_t h;

		e->off = total;
		if (s.len == 0) { /* llama.cpp names empty tokens so */
			e->len = (uint32_t)sprintf(t->arena + total, "[EMPTY_%llu]",
			                           (unsigned long long)i);
		} else {
			memcpy(t->arena + total, s.p, s.len);
			e->len = (uint32_t)s.len;
		}
		total += e->len;
		if (sc) {
			const uint8_t *p = sc->v.arr.data + 4 * i;

			if (sc->v.arr.type == GGUF_VT_F32) {
				memcpy(&e->score, p, 4);
			} else {
				int32_t v;

				memcpy(&v, p, 4);
				e->score = (float)v;
			}
		}
		e->attr = ATTR_NORMAL;
		if (ty) {
			int32_t v;

			memcpy(&v, ty->v.arr.data + 4 * i, 4);
			switch (v) {
			case 1:
				e->attr = ATTR_NORMAL;
				break;
			case 2:
				e->attr = ATTR_UNKNOWN;
				break;
			case 3:
				e->attr = ATTR_CONTROL;
				break;
			case 4:
				e->attr = ATTR_USER_DEFINED;
				break;
			case 5:
				e->attr = ATTR_UNUSED;
				break;
			case 6:
				e->attr = ATTR_BYTE;
				break;
			default:
				e->attr = ATTR_UNDEFINED;
				break;
			}
		}
		if (lookup(t, t->arena + e->off, e->len) >= 0) {
			char show[40];

			snprintf(show, sizeof(show), "%.*s", (int)(e->len < 32 ? e->len : 32),
			         t->arena + e->off);
			return fail(err, err_len,
			            "%s: token %llu ('%s') appears twice in the vocabulary", name,
			            (unsigned long long)i, show);
		}
		for (h = hash2(t->arena + e->off, e->len, NULL, 0) & t->ht_mask; t->ht[h];
		     h = (h + 1) & t->ht_mask)
			;
		t->ht[h] = (uint32_t)i + 1;
	}
	return 0;
}

static int load_merges(struct tokenizer *t, const struct gguf *g, const char *name, char *err,
                       size_t err_len)
{
	const struct gguf_kv *mk = gguf_find(g, "tokenizer.ggml.merges");
	uint64_t total = 0, n;

	if (!mk)
		return fail(err, err_len,
		            "%s: no tokenizer.ggml.merges (byte-level BPE needs them)", name);
	if (mk->type != GGUF_VT_ARRAY || mk->v.arr.type != GGUF_VT_STRING)
		return fail(err, err_len, "%s: tokenizer.ggml.merges is not an array of strings",
		            name);
	n = mk->v.arr.n;
	if (n > INT32_MAX - 1)
		return fail(err, err_len, "%s: %llu merges", name, (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++)
		total += gguf_arr_str(mk, i).len;
	t->marena = malloc(total ? total : 1);
	t->mg = calloc(n ? n : 1, sizeof(*t->mg));
	t->mht_mask = table_size(n) - 1;
	t->mht = calloc(t->mht_mask + 1, sizeof(*t->mht));
	if (!t->marena || !t->mg || !t->mht)
		return fail(err, err_len, "%s: out of memory", name);
	total = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct gguf_str s = gguf_arr_str(mk, i);
		const char *sp = s.len > 1 ? memchr(s.p + 1, ' ', s.len - 1) : NULL;
		struct merge *m = &t->mg[t->n_mg];
		uint64_t h;

		/* "left right", split at the first space after the first byte;
		 * none: llama.cpp ranks an empty pair that never matches */
		if (!sp)
			continue;
		m->off = total;
		m->llen = (uint32_t)(sp - s.p);
		m->rlen = (uint32_t)(s.len - m->llen - 1);
		m->rank = (int32_t)i;
		/* a pair seen before keeps its first (lower) rank */
		if (merge_rank(t, s.p, m->llen, sp + 1, m->rlen) >= 0)
			continue;
		memcpy(t->marena + total, s.p, s.len);
		total += s.len;
		t->n_mg++;
		for (h = hash2(s.p, m->llen, sp + 1, m->rlen) & t->mht_mask; t->mht[h];
		     h = (h + 1) & t->mht_mask)
			;
		t->mht[h] = t->n_mg;
	}
	return 0;
}

int tok_create(const struct gguf *g, struct tokenizer **out, char *err, size_t err_len)
{
	const char *name = g->path ? g->path : "(gguf)";
	struct tokenizer *t;
	struct gguf_str model, pre;
	int b;

	pthread_once(&u_once, u_init);
	if (!u_flags)
		return fail(err, err_len, "%s: cannot build the Unicode tables (out of memory?)",
		            name);
	if (gguf_get_str(g, "tokenizer.ggml.model", &model))
		return fail(err, err_len, "%s: no tokenizer (tokenizer.ggml.model missing)", name);
	t = calloc(1, sizeof(*t));
	if (!t)
		return fail(err, err_len, "%s: out of memory", name);
	if (model.len == 5 && !memcmp(model.p, "llama", 5)) {
		t->kind = TOK_SPM;
		t->bos = 1;
		t->eos = 2;
		t->unk = 0;
		t->add_bos = 1;
		t->add_space_prefix = 1;
	} else if (model.len == 4 && !memcmp(model.p, "gpt2", 4)) {
		t->kind = TOK_BPE;
		t->bos = 11;
		t->eos = 11;
		t->unk = -1;
		t->pre = PRE_DEFAULT;
		if (gguf_get_str(g, "tokenizer.ggml.pre", &pre) == 0) {
#define PRE_IS(z) (pre.len == strlen(z) && !memcmp(pre.p, z, pre.len))
			if (PRE_IS("default")) {
				t->pre = PRE_DEFAULT;
			} else if (PRE_IS("llama3") || PRE_IS("llama-v3") || PRE_IS("llama-bpe")) {
				t->pre = PRE_LLAMA3;
				t->ignore_merges = 1;
				t->add_bos = 1;
			} else if (PRE_IS("qwen2") || PRE_IS("deepseek-r1-qwen")) {
				t->pre = PRE_QWEN2;
			} else if (PRE_IS("gpt-2")) {
				t->pre = PRE_GPT2;
			} else {
				fail(err, err_len,
				     "%s: pre-tokenizer '%.*s' is not supported (default, gpt-2, "
				     "llama3/llama-bpe, qwen2)",
				     name, (int)(pre.len < 40 ? pre.len : 40), pre.p);
				tok_destroy(t);
				return -1;
			}
#undef PRE_IS
		}
	} else {
		fail(err, err_len, "%s: tokenizer model '%.*s' is not supported (llama, gpt2)",
		     name, (int)(model.len < 40 ? model.len : 40), model.p);
		tok_destroy(t);
		return -1;
	}
	if (load_vocab(t, g, name, err, err_len) ||
	    (t->kind == TOK_BPE && load_merges(t, g, name, err, err_len))) {
		tok_destroy(t);
		return -1;
	}
	if (gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b) == 0)
		t->add_space_prefix = b;

	/* control-looking tokens, end-of-generation tokens */
	{
		int32_t eot = -1, eom = -1, fim[3] = {-1, -1, -1};

		for (int32_t i = 0; i < t->n; i++) {
			struct tok_entry *e = &t->tok[i];
			const char *s = t->arena + e->off;

			if (IN_LIST(s, e->len, eot_texts) || IN_LIST(s, e->len, fim_eog_texts) ||
			    IN_LIST(s, e->len, fim_other_texts) || IN_LIST(s, e->len, eog_texts))
				e->attr |= ATTR_CONTROL;
			if (IN_LIST(s, e->len, eog_texts))
				t->eog[i] = 1;
		}
		special_id(g, "tokenizer.ggml.bos_token_id", t->n, &t->bos);
		special_id(g, "tokenizer.ggml.eos_token_id", t->n, &t->eos);
		special_id(g, "tokenizer.ggml.unknown_token_id", t->n, &t->unk);
		special_id(g, "tokenizer.ggml.eot_token_id", t->n, &eot);
		special_id(g, "tokenizer.ggml.eom_token_id", t->n, &eom);
		special_id(g, "tokenizer.ggml.fim_pad_token_id", t->n, &fim[0]);
		special_id(g, "tokenizer.ggml.fim_rep_token_id", t->n, &fim[1]);
		special_id(g, "tokenizer.ggml.fim_sep_token_id", t->n, &fim[2]);
		if (t->eos >= 0)
			t->eog[t->eos] = 1;
		if (eot >= 0)
			t->eog[eot] = 1;
		if (eom >= 0)
			t->eog[eom] = 1;
		for (int k = 0; k < 3; k++)
			if (fim[k] >= 0)
				t->eog[fim[k]] = 1;
	}
	if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b) == 0)
		t->add_bos = b;
	if (gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b) == 0)
		t->add_eos = b;

	/* the tokens cut out of the text before tokenizing, longest first */
	{
		struct len_id *v = malloc((size_t)t->n * sizeof(*v));

		t->special = malloc((size_t)t->n * sizeof(*t->special));
		if (!t->special || !v) {
			free(v);
			tok_destroy(t);
			return fail(err, err_len, "%s: out of memory", name);
		}
		for (int32_t i = 0; i < t->n; i++)
			if (t->tok[i].attr & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) {
				v[t->n_special].len = t->tok[i].len;
				v[t->n_special++].id = i;
			}
		qsort(v, (size_t)t->n_special, sizeof(*v), cmp_special);
		for (int32_t i = 0; i < t->n_special; i++)
			t->special[i] = v[i].id;
		free(v);
	}

	/* byte tokens */
	for (int c = 0; c < 256; c++) {
		char buf[8];

		if (t->kind == TOK_SPM) {
			snprintf(buf, sizeof(buf), "<0x%02X>", c);
			t->byte_tok[c] = lookup(t, buf, 6);
			if (t->byte_tok[c] < 0) {
				buf[0] = (char)c;
				t->byte_tok[c] = lookup(t, buf, 1);
			}
		} else {
			t->byte_tok[c] = lookup(t, buf, utf8_put(byte_to_cp((uint8_t)c), buf));
		}
	}
	*out = t;
	return 0;
}

void tok_destroy(struct tokenizer *t)
{
	if (!t)
		return;
	free(t->arena);
	free(t->tok);
	free(t->ht);
	free(t->marena);
	free(t->mg);
	free(t->mht);
	free(t->special);
	free(t->eog);
	free(t);
}

enum tok_kind tok_kind(const struct tokenizer *t)
{
	return t->kind;
}

int32_t tok_n_vocab(const struct tokenizer *t)
{
	return t->n;
}

int32_t tok_bos(const struct tokenizer *t)
{
	return t->bos;
}

int32_t tok_eos(const struct tokenizer *t)
{
	return t->eos;
}

int tok_is_eog(const struct tokenizer *t, int32_t id)
{
	return id >= 0 && id < t->n && t->eog[id];
}

int tok_add_bos(const struct tokenizer *t)
{
	return t->add_bos;
}

int32_t tok_find(const struct tokenizer *t, const char *text)
{
	return lookup(t, text, strlen(text));
}

/* ------------------------------------------------------------ merging */

struct sym {
	const char *text;
	size_t n;
	int prev, next;
};

/* A pair of adjacent symbols to merge: SPM orders by score (highest
 * first), BPE by rank (lowest first); ties go to the leftmost pair. */
struct bigram {
	int left, right;
	double key; /* SPM: -score; BPE: rank (both exact in a double) */
	size_t size;
};

struct heap {
	struct bigram *p;
	size_t n, cap;
	int oom;
};

static int bg_less(const struct bigram *a, const struct bigram *b)
{
	return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static void heap_push(struct heap *h, struct bigram b)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct bigram *q = realloc(h->p, cap * sizeof(*q));

		if (!q) {
			h->oom = 1;
			return;
		}
		h->p = q;
		h->cap = cap;
	}
	i = h->n++;
	while (i > 0 && bg_less(&b, &h->p[(i - 1) / 2])) {
		h->p[i] = h->p[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->p[i] = b;
}

static struct bigram heap_pop(struct heap *h)
{
	struct bigram top = h->p[0], last = h->p[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && bg_less(&h->p[c + 1], &h->p[c]))
			c++;
		if (!bg_less(&h->p[c], &last))
			break;
		h->p[i] = h->p[c];
		i = c;
	}
	if (h->n)
		h->p[i] = last;
	return top;
}

/* Splits @s (@n bytes of valid UTF-8) into one symbol per character. */
static struct sym *split_chars(const char *s, size_t n, int *count)
{
	struct sym *v = malloc((n ? n : 1) * sizeof(*v));
	int k = 0;

	if (!v)
		return NULL;
	for (size_t off = 0; off < n; k++) {
		uint32_t cp;
		size_t len = utf8_get((const unsigned char *)s + off, n - off, &cp);

		if (!len)
			len = 1; /* not reached: the text was checked */
		v[k].text = s + off;
		v[k].n = len;
		v[k].prev = k - 1;
		off += len;
		v[k].next = off == n ? -1 : k + 1;
	}
	*count = k;
	return v;
}

static void spm_add(const struct tokenizer *t, struct sym *sy, struct heap *h, int l, int r)
{
	int32_t id;
	struct bigram b;

	if (l < 0 || r < 0)
		return;
	id = lookup(t, sy[l].text, sy[l].n + sy[r].n);
	if (id < 0)
		return;
	b.left = l;
	b.right = r;
	b.key = -(double)t->tok[id].score;
	b.size = sy[l].n + sy[r].n;
	heap_push(h, b);
}

/* SentencePiece on @s (spaces already U+2581). */
static int spm_run(const struct tokenizer *t, const char *s, size_t n, struct ids *out)
{
	struct heap h = {0};
	int cnt;
	struct sym *sy = split_chars(s, n, &cnt);

	if (!sy)
		return -1;
	for (int i = 1; i < cnt; i++)
		spm_add(t, sy, &h, i - 1, i);
	while (h.n && !h.oom) {
		struct bigram b = heap_pop(&h);
		struct sym *l = &sy[b.left], *r = &sy[b.right];

		if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			sy[r->next].prev = b.left;
		spm_add(t, sy, &h, l->prev, b.left);
		spm_add(t, sy, &h, b.left, l->next);
	}
	for (int i = cnt ? 0 : -1; i != -1 && !h.oom; i = sy[i].next) {
		int32_t id = lookup(t, sy[i].text, sy[i].n);

		if (id >= 0) {
			push(out, id);
			continue;
		}
		/* a character no token spells: its bytes' tokens; when one is
		 * missing (llama.cpp fails there), <unk> for the character */
		{
			size_t j;

			for (j = 0; j < sy[i].n; j++)
				if (t->byte_tok[(unsigned char)sy[i].text[j]] < 0)
					break;
			if (j < sy[i].n) {
				if (t->unk >= 0)
					push(out, t->unk);
				continue;
			}
			for (j = 0; j < sy[i].n; j++)
				push(out, t->byte_tok[(unsigned char)sy[i].text[j]]);
		}
	}
	free(h.p);
	free(sy);
	return h.oom ? -1 : 0;
}

static void bpe_add(const struct tokenizer *t, struct sym *sy, struct heap *h, int l, int r)
{
	int32_t rank;
	struct bigram b;

	if (l < 0 || r < 0)
		return;
	rank = merge_rank(t, sy[l].text, sy[l].n, sy[r].text, sy[r].n);
	if (rank < 0)
		return;
	b.left = l;
	b.right = r;
	b.key = rank;
	b.size = sy[l].n + sy[r].n;
	heap_push(h, b);
}

/* Byte-level BPE on one word @w (already mapped to GPT-2's characters). */
static int bpe_word(const struct tokenizer *t, const char *w, size_t n, struct ids *out)
{
	struct heap h = {0};
	int cnt;
	struct sym *sy;

	if (t->ignore_merges) {
		int32_t id = lookup(t, w, n);

		if (id >= 0) {
			push(out, id);
			return 0;
		}
	}
	sy = split_chars(w, n, &cnt);
	if (!sy)
		return -1;
	for (int i = 1; i < cnt; i++)
		bpe_add(t, sy, &h, i - 1, i);
	while (h.n && !h.oom) {
		struct bigram b = heap_pop(&h);
		struct sym *l = &sy[b.left], *r = &sy[b.right];

		if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			sy[r->next].prev = b.left;
		bpe_add(t, sy, &h, l->prev, b.left);
		bpe_add(t, sy, &h, b.left, l->next);
	}
	for (int i = 0; i < cnt && !h.oom; i++) {
		int32_t id;

		if (sy[i].n == 0)
			continue;
		id = lookup(t, sy[i].text, sy[i].n);
		if (id >= 0) {
			push(out, id);
			continue;
		}
		/* llama.cpp looks each byte of the symbol up as a one-byte
		 * token and drops the bytes that are none */
		for (size_t j = 0; j < sy[i].n; j++) {
			id = lookup(t, sy[i].text + j, 1);
			if (id >= 0)
				push(out, id);
		}
	}
	free(h.p);
	free(sy);
	return h.oom ? -1 : 0;
}

/* ------------------------------------------------------------ pre-tokenizers */

/* The code points of a piece and where each starts in the text. */
struct cps {
	uint32_t *cp;
	size_t *off; /* n + 1 entries */
	size_t n;
};

static uint8_t fl_at(const struct cps *c, size_t lo, size_t hi, size_t i)
{
	return (i >= lo && i < hi) ? (uint8_t)(u_flags[c->cp[i]] | U_IN) : 0;
}

/* Word boundaries (code point indexes) in a growing list. */
struct cuts {
	size_t *p;
	size_t n, cap;
	int oom;
};

static void cut(struct cuts *v, size_t end)
{
	if (v->n && v->p[v->n - 1] == end)
		return;
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		size_t *q = realloc(v->p, cap * sizeof(*q));

		if (!q) {
			v->oom = 1;
			return;
		}
		v->p = q;
		v->cap = cap;
	}
	v->p[v->n++] = end;
}

static int is_lower_contraction(const struct cps *c, size_t pos, size_t hi, int fold)
{
	uint32_t a, b;

	if (c->cp[pos] != '\'' || pos + 1 >= hi)
		return 0;
	a = c->cp[pos + 1];
	if (fold && a < 128 && a >= 'A' && a <= 'Z')
		a += 32;
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	if (pos + 2 >= hi)
		return 0;
	b = c->cp[pos + 2];
	if (fold && b < 128 && b >= 'A' && b <= 'Z')
		b += 32;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * over code points [lo, hi). */
static void split_gpt2(const struct cps *c, size_t lo, size_t hi, struct cuts *out)
{
	size_t pos = lo;

	while (pos < hi) {
		uint32_t cp = c->cp[pos];
		uint8_t f2;
		size_t k;

		if ((k = (size_t)is_lower_contraction(c, pos, hi, 0))) {
			pos += k;
			cut(out, pos);
			continue;
		}
		f2 = cp == ' ' ? fl_at(c, lo, hi, pos + 1) : fl_at(c, lo, hi, pos);
		if (f2 & (U_L | U_N)) {
			uint8_t want = (f2 & U_L) ? U_L : U_N;

			pos += cp == ' ';
			while (pos < hi && (u_flags[c->cp[pos]] & want))
				pos++;
			cut(out, pos);
			continue;
		}
		if ((f2 & U_IN) && !(f2 & (U_WS | U_L | U_N))) {
			pos += cp == ' ';
			while (pos < hi && !(u_flags[c->cp[pos]] & (U_WS | U_L | U_N)))
				pos++;
			cut(out, pos);
			continue;
		}
		for (k = 0; pos + k < hi && (u_flags[c->cp[pos + k]] & U_WS); k++)
			;
		if (k > 1 && pos + k < hi) {
			pos += k - 1; /* \s+(?!\S): leave one before the next word */
			cut(out, pos);
		} else if (k > 0) {
			pos += k;
			cut(out, pos);
		} else {
			cut(out, ++pos);
		}
	}
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxd}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * (llama3: maxd 3; qwen2: maxd 1). */
static void split_llama3(const struct cps *c, size_t lo, size_t hi, int maxd, struct cuts *out)
{
	size_t pos = lo;

	while (pos < hi) {
		uint32_t cp = c->cp[pos];
		uint8_t f = u_flags[cp], f2;
		size_t k, last_nl;

		if ((k = (size_t)is_lower_contraction(c, pos, hi, 1))) {
			pos += k;
			cut(out, pos);
			continue;
		}
		if (cp != '\r' && cp != '\n' && !(f & U_N) &&
		    ((f & U_L) || (fl_at(c, lo, hi, pos + 1) & U_L))) {
			pos++;
			while (pos < hi && (u_flags[c->cp[pos]] & U_L))
				pos++;
			cut(out, pos);
			continue;
		}
		if (f & U_N) {
			for (k = 0; (int)k < maxd && pos < hi && (u_flags[c->cp[pos]] & U_N); k++)
				pos++;
			cut(out, pos);
			continue;
		}
		f2 = cp == ' ' ? fl_at(c, lo, hi, pos + 1) : f;
		if (!(f2 & (U_WS | U_L | U_N))) {
			pos += cp == ' ';
			while (pos < hi && !(u_flags[c->cp[pos]] & (U_WS | U_L | U_N)))
				pos++;
			while (pos < hi && (c->cp[pos] == '\r' || c->cp[pos] == '\n'))
				pos++;
			cut(out, pos);
			continue;
		}
		last_nl = 0;
		for (k = 0; pos + k < hi && (u_flags[c->cp[pos + k]] & U_WS); k++)
			if (c->cp[pos + k] == '\r' || c->cp[pos + k] == '\n')
				last_nl = pos + k + 1;
		if (last_nl) {
			pos = last_nl;
			cut(out, pos);
		} else if (k > 1 && pos + k < hi) {
			pos += k - 1;
			cut(out, pos);
		} else if (k > 0) {
			pos += k;
			cut(out, pos);
		} else {
			cut(out, ++pos);
		}
	}
}

/* Runs of code points for which @in(cp) holds become pieces of their own;
 * what lies between them too (a regular expression [class]+ as llama.cpp's
 * splitter applies it). */
static void split_runs(const struct cps *c, size_t lo, size_t hi, int (*in)(uint32_t),
                       struct cuts *out)
{
	size_t pos = lo;

	while (pos < hi) {
		int m = in(c->cp[pos]);

		while (pos < hi && in(c->cp[pos]) == m)
			pos++;
		cut(out, pos);
	}
}

static int is_default_punct(uint32_t cp)
{
	return (u_flags[cp] & U_P) || (cp < 128 && strchr("$+<=>^~|", (int)cp) && cp);
}

static int is_number(uint32_t cp)
{
	return (u_flags[cp] & U_N) != 0;
}

/* [0-9][0-9][0-9]: each run of ASCII digits cut into threes from its
 * start; the rest unchanged. */
static void split_digits3(const struct cps *c, size_t lo, size_t hi, struct cuts *out)
{
	size_t pos = lo;

	while (pos < hi) {
		if (pos + 2 < hi && c->cp[pos] - '0' < 10 && c->cp[pos + 1] - '0' < 10 &&
		    c->cp[pos + 2] - '0' < 10) {
			cut(out, pos);
			pos += 3;
			cut(out, pos);
			continue;
		}
		pos++;
	}
	cut(out, hi);
}

/* The words of @c per the pre-tokenizer: boundaries (code point indexes,
 * ascending, the last == n) in @words. */
static int pretokenize(const struct tokenizer *t, const struct cps *c, struct cuts *words)
{
	struct cuts a = {0}, b = {0};
	size_t start;
	int ret = 0;

	switch (t->pre) {
	case PRE_GPT2:
		split_gpt2(c, 0, c->n, words);
		break;
	case PRE_LLAMA3:
		split_llama3(c, 0, c->n, 3, words);
		break;
	case PRE_QWEN2:
		split_llama3(c, 0, c->n, 1, words);
		break;
	case PRE_DEFAULT:
		/* four expressions in turn, each splitting the pieces of the last */
		split_runs(c, 0, c->n, is_default_punct, &b);
		start = 0;
		for (size_t i = 0; i < b.n; start = b.p[i++])
			split_gpt2(c, start, b.p[i], &a);
		b.n = 0;
		start = 0;
		for (size_t i = 0; i < a.n; start = a.p[i++])
			split_runs(c, start, a.p[i], is_number, &b);
		start = 0;
		for (size_t i = 0; i < b.n; start = b.p[i++])
			split_digits3(c, start, b.p[i], words);
		break;
	}
	if (a.oom || b.oom || words->oom)
		ret = -1;
	free(a.p);
	free(b.p);
	return ret;
}

static int bpe_run(const struct tokenizer *t, const char *s, size_t n, struct ids *out)
{
	struct cps c = {0};
	struct cuts words = {0};
	char *wb = NULL;
	size_t start = 0;
	int ret = -1;

	c.cp = malloc((n ? n : 1) * sizeof(*c.cp));
	c.off = malloc((n + 1) * sizeof(*c.off));
	wb = malloc(2 * n + 1); /* each byte maps to at most 2 bytes of UTF-8 */
	if (!c.cp || !c.off || !wb)
		goto out;
	for (size_t off = 0; off < n;) {
		size_t k = utf8_get((const unsigned char *)s + off, n - off, &c.cp[c.n]);

		if (!k)
			goto out; /* not reached: the text was checked */
		c.off[c.n++] = off;
		off += k;
	}
	c.off[c.n] = n;
	if (pretokenize(t, &c, &words))
		goto out;
	for (size_t i = 0; i < words.n; start = words.p[i++]) {
		size_t b0 = c.off[start], b1 = c.off[words.p[i]], wn = 0;

		if (b1 == b0)
			continue;
		for (size_t j = b0; j < b1; j++)
			wn += utf8_put(byte_to_cp((uint8_t)s[j]), wb + wn);
		if (bpe_word(t, wb, wn, out))
			goto out;
	}
	ret = 0;
out:
	free(c.cp);
	free(c.off);
	free(wb);
	free(words.p);
	return ret;
}

/* ------------------------------------------------------------ encoding */

struct frag {
	int32_t id; /* -1: raw text */
	size_t off, len;
};

struct frags {
	struct frag *p;
	size_t n, cap;
	int oom;
};

static void frag_add(struct frags *v, int32_t id, size_t off, size_t len)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct frag *q = realloc(v->p, cap * sizeof(*q));

		if (!q) {
			v->oom = 1;
			return;
		}
		v->p = q;
		v->cap = cap;
	}
	v->p[v->n].id = id;
	v->p[v->n].off = off;
	v->p[v->n].len = len;
	v->n++;
}

/* The first occurrence of @s (@n bytes, n > 0) in @h (@hn bytes). */
static const char *find(const char *h, size_t hn, const char *s, size_t n)
{
	while (hn >= n) {
		const char *p = memchr(h, s[0], hn - n + 1);

		if (!p)
			return NULL;
		if (memcmp(p, s, n) == 0)
			return p;
		hn -= (size_t)(p - h) + 1;
		h = p + 1;
	}
	return NULL;
}

/* Cuts the special tokens out of the text (llama.cpp's
 * tokenizer_st_partition). */
static int partition(const struct tokenizer *t, const char *text, size_t len, int special,
                     struct frags *fr)
{
	struct frags next = {0};

	if (len)
		frag_add(fr, -1, 0, len);
	for (int32_t k = 0; k < t->n_special && !fr->oom; k++) {
		int32_t id = t->special[k];
		const struct tok_entry *e = &t->tok[id];
		const char *s = t->arena + e->off;
		int changed = 0;

		if (!special && (e->attr & (ATTR_CONTROL | ATTR_UNKNOWN)))
			continue;
		next.n = 0;
		for (size_t i = 0; i < fr->n; i++) {
			struct frag f = fr->p[i];
			size_t off = f.off, end = f.off + f.len;

			if (f.id >= 0 || e->len > f.len) {
				frag_add(&next, f.id, f.off, f.len);
				continue;
			}
			for (size_t from = off;;) {
				const char *m = find(text + from, end - from, s, e->len);
				size_t at, stop;

				if (!m)
					break;
				at = (size_t)(m - text);
				stop = at + e->len;
				/* only whole characters: a token whose text ends or
				 * starts inside one (it is no valid UTF-8 itself)
				 * would leave broken text around it */
				if ((text[at] & 0xc0) == 0x80 ||
				    (stop < len && (text[stop] & 0xc0) == 0x80)) {
					from = at + 1;
					continue;
				}
				changed = 1;
				if (at > off)
					frag_add(&next, -1, off, at - off);
				frag_add(&next, id, 0, 0);
				off = from = stop;
			}
			if (off < end)
				frag_add(&next, -1, off, end - off);
		}
		if (next.oom) {
			fr->oom = 1;
			break;
		}
		if (changed) {
			struct frags tmp = *fr;

			*fr = next;
			next = tmp;
		}
	}
	free(next.p);
	return fr->oom ? -1 : 0;
}

static int utf8_valid(const char *s, size_t n)
{
	for (size_t off = 0; off < n;) {
		uint32_t cp;
		size_t k = utf8_get((const unsigned char *)s + off, n - off, &cp);

		if (!k)
			return 0;
		off += k;
	}
	return 1;
}

int64_t tok_encode(const struct tokenizer *t, const char *text, size_t len, int add_bos,
                   int special, int32_t *ids, int64_t max)
{
	struct frags fr = {0};
	struct ids out = {0};
	int64_t ret = -1;
	int prev_special = 1;
	char *buf = NULL;

	if (len > (size_t)1 << 30 || !utf8_valid(text, len))
		return -1;
	if (partition(t, text, len, special, &fr))
		goto out;
	if (add_bos && t->add_bos && t->bos >= 0)
		push(&out, t->bos);
	if (t->kind == TOK_SPM)
		buf = malloc(3 * len + 4); /* every space may become 3 bytes */
	for (size_t i = 0; i < fr.n; i++) {
		const struct frag *f = &fr.p[i];

		if (f->id >= 0) {
			push(&out, f->id);
			prev_special = 1;
			continue;
		}
		if (t->kind == TOK_SPM) {
			size_t n = 0;

			if (!buf)
				goto out;
			if (t->add_space_prefix && prev_special) {
				memcpy(buf, "\xe2\x96\x81", 3);
				n = 3;
			}
			for (size_t j = 0; j < f->len; j++) {
				if (text[f->off + j] == ' ') {
					memcpy(buf + n, "\xe2\x96\x81", 3);
					n += 3;
				} else {
					buf[n++] = text[f->off + j];
				}
			}
			if (spm_run(t, buf, n, &out))
				goto out;
		} else if (bpe_run(t, text + f->off, f->len, &out)) {
			goto out;
		}
		prev_special = 0;
	}
	if (add_bos && t->add_eos && t->eos >= 0)
		push(&out, t->eos);
	if (out.oom)
		goto out;
	if (ids && max > 0 && out.n)
		memcpy(ids, out.p,
		       (size_t)((int64_t)out.n < max ? (int64_t)out.n : max) * sizeof(*ids));
	ret = (int64_t)out.n;
out:
	free(buf);
	free(fr.p);
	free(out.p);
	return ret;
}

/* ------------------------------------------------------------ decoding */

static int copy_out(const char *s, size_t n, char *out, size_t max)
{
	if (out && max)
		memcpy(out, s, n < max ? n : max);
	return (int)n;
}

int tok_piece(const struct tokenizer *t, int32_t id, char *out, size_t max)
{
	const struct tok_entry *e;
	const char *s;

	if (id < 0 || id >= t->n)
		return -1;
	e = &t->tok[id];
	s = t->arena + e->off;
	if (e->attr & (ATTR_CONTROL | ATTR_UNKNOWN))
		return 0;
	if (e->attr & ATTR_USER_DEFINED)
		return copy_out(s, e->len, out, max);
	if (e->attr & ATTR_BYTE) {
		char b;
		unsigned v;

		if (e->len == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' &&
		    sscanf(s + 3, "%2x", &v) == 1) {
			b = (char)v;
			return copy_out(&b, 1, out, max);
		}
		return copy_out(s, e->len, out, max);
	}
	if (!(e->attr & ATTR_NORMAL))
		return 0; /* unused and undefined tokens print nothing, as in llama.cpp */
	if (t->kind == TOK_SPM) {
		size_t k = 0;

		for (size_t i = 0; i < e->len;) {
			if (i + 3 <= e->len && !memcmp(s + i, "\xe2\x96\x81", 3)) {
				if (out && k < max)
					out[k] = ' ';
				k++;
				i += 3;
			} else {
				if (out && k < max)
					out[k] = s[i];
				k++;
				i++;
			}
		}
		return (int)k;
	} else {
		size_t k = 0;

		for (size_t i = 0; i < e->len;) {
			uint32_t cp;
			size_t n = utf8_get((const unsigned char *)s + i, e->len - i, &cp);
			int b = n ? cp_to_byte(cp) : -1;

			if (b >= 0) {
				if (out && k < max)
					out[k] = (char)b;
				k++;
				i += n;
			} else {
				/* not a GPT-2 byte character: its bytes as they are */
				size_t m = n ? n : 1;

				for (size_t j = 0; j < m; j++, k++)
					if (out && k < max)
						out[k] = s[i + j];
				i += m;
			}
		}
		return (int)k;
	}
}
