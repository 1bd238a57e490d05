/*
 * tokenizer.h - the tokenizers of GGUF language models, from the file's
 * tokenizer.ggml.* metadata: SentencePiece (model "llama": scores, byte
 * fallback <0xNN>) and byte-level BPE (model "gpt2": merges, the
 * pre-tokenizer chosen by tokenizer.ggml.pre). Token ids are llama.cpp's.
 */
#ifndef SAMPAN_TOKENIZER_H
#define SAMPAN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

struct tokenizer;

enum tok_kind { TOK_SPM = 1, TOK_BPE = 2 };

/* Builds the tokenizer of @g. -1 and a message in @err when the metadata
 * is missing, inconsistent or of an unsupported model/pre-tokenizer. */
int tok_create(const struct gguf *g, struct tokenizer **out, char *err, size_t err_len);
void tok_destroy(struct tokenizer *t);

enum tok_kind tok_kind(const struct tokenizer *t);
int32_t tok_n_vocab(const struct tokenizer *t);
int32_t tok_bos(const struct tokenizer *t); /* -1 if none */
int32_t tok_eos(const struct tokenizer *t); /* -1 if none */
/* Other end-of-generation tokens (e.g. <|im_end|>, <|eot_id|>): 1 if @id is one. */
int tok_is_eog(const struct tokenizer *t, int32_t id);
int tok_add_bos(const struct tokenizer *t); /* tokenizer.ggml.add_bos_token */

/* Encodes UTF-8 @text (@len bytes) as llama.cpp's llama_tokenize does with
 * add_special = @add_bos and parse_special = @special (control tokens written
 * in the text, such as <|im_start|>, become their ids). Writes at most @max ids
 * to @ids and returns the count needed; -1 if @text is not valid UTF-8 (or
 * is over 1 GiB, or memory runs out). */
int64_t tok_encode(const struct tokenizer *t, const char *text, size_t len, int add_bos,
                   int special, int32_t *ids, int64_t max);

/* The bytes of token @id as text (SentencePiece "▁" -> " ", <0xNN> -> the
 * byte, byte-level BPE mapped back to bytes; control tokens -> "").
 * Writes at most @max bytes and returns the count needed; -1 for a bad id. */
int tok_piece(const struct tokenizer *t, int32_t id, char *out, size_t max);

/* Looks up a token by its exact text; -1 if absent. */
int32_t tok_find(const struct tokenizer *t, const char *text);

#endif /* SAMPAN_TOKENIZER_H */
