/*
 * fuzz_gguf.c - libFuzzer harness of the GGUF reader: any bytes given to
 * gguf_open_memory open or fail with a message naming the file, never
 * crash. An opened file is then used as the runtime would: every metadata
 * value read (strings of arrays too), every row of every tensor converted
 * to floats, and its tokenizer built (tok_create) and run on a few texts
 * when its metadata has one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/gguf.h"
#include "llm/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const texts[] = {
    "Hello world",
    " 香港 咗嘅唔佢啲 😀 123456 ",
    "<s>a</s><|im_start|>x<|im_end|>",
    "\n\n  \t",
};

static void use_tokenizer(const struct gguf *g)
{
	struct tokenizer *t = NULL;
	char err[512] = "";
	int32_t ids[512];
	char piece[64];

	if (tok_create(g, &t, err, sizeof(err)) != 0) {
		if (t != NULL || strncmp(err, "fuzz.gguf: ", 11) != 0)
			__builtin_trap();
		return;
	}
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		int64_t n = tok_encode(t, texts[i], strlen(texts[i]), 1, (int)(i & 1), ids, 512);

		if (n < 0)
			__builtin_trap(); /* valid UTF-8 is never refused */
		for (int64_t k = 0; k < n && k < 512; k++)
			if (ids[k] < 0 || ids[k] >= tok_n_vocab(t) ||
			    tok_piece(t, ids[k], piece, sizeof(piece)) < 0)
				__builtin_trap();
	}
	tok_is_eog(t, tok_eos(t));
	tok_find(t, "<s>");
	tok_destroy(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf *g = NULL;
	char err[512] = "";
	volatile uint64_t sink = 0;

	if (gguf_open_memory(data, size, "fuzz.gguf", &g, err, sizeof(err)) != 0) {
		/* the contract: no handle, a message naming the file */
		if (g != NULL || strncmp(err, "fuzz.gguf: ", 11) != 0)
			__builtin_trap();
		return 0;
	}
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const struct gguf_kv *kv = &g->kv[i];
		uint64_t u;
		double f;
		int b;
		struct gguf_str s;
		char key[80];

		if (kv->key.len + 1 <= sizeof(key)) {
			memcpy(key, kv->key.p, kv->key.len);
			key[kv->key.len] = '\0';
			sink += gguf_get_uint(g, key, &u) + gguf_get_float(g, key, &f) +
			        gguf_get_bool(g, key, &b) + gguf_get_str(g, key, &s);
		}
		if (kv->type == GGUF_VT_STRING && kv->v.s.len)
			sink += (uint8_t)kv->v.s.p[kv->v.s.len - 1];
		if (kv->type == GGUF_VT_ARRAY && kv->v.arr.type == GGUF_VT_STRING)
			for (uint64_t k = 0; k < kv->v.arr.n; k++) {
				struct gguf_str e = gguf_arr_str(kv, k);

				if (e.len)
					sink += (uint8_t)e.p[0] + (uint8_t)e.p[e.len - 1];
			}
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		float *row = malloc(t->ne[0] * sizeof(float));
		char name[80];

		if (t->bytes != gguf_type_bytes(t->type, t->nelem))
			__builtin_trap();
		if (t->name.len + 1 <= sizeof(name) && !memchr(t->name.p, 0, t->name.len)) {
			memcpy(name, t->name.p, t->name.len);
			name[t->name.len] = '\0';
			if (gguf_tensor(g, name) != t) /* names are unique */
				__builtin_trap();
		}
		if (!row)
			abort();
		for (uint64_t r = 0; r < t->nelem / t->ne[0]; r++) {
			gguf_row_to_f32(t, r, row);
			sink += (uint64_t)(row[0] == row[0]);
		}
		free(row);
	}
	if (gguf_find(g, "tokenizer.ggml.model"))
		use_tokenizer(g);
	gguf_close(g);
	(void)sink;
	return 0;
}
