/*
 * llm_cmd.h - what the language-model commands (`sampan generate`, `chat`,
 * `perplexity`) share: opening a GGUF model with its tokenizer on a device,
 * option parsing for sampling, UTF-8 checks, and the device figures in JSON.
 */
#ifndef SAMPAN_HOST_LLM_CMD_H
#define SAMPAN_HOST_LLM_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "llm/gguf.h"
#include "llm/model.h"
#include "llm/sample.h"
#include "llm/tokenizer.h"

/* A model ready to run. */
struct llm_session {
	struct gguf *g;
	struct tokenizer *tok;
	struct sampan_device *dev;
	struct sampan_info info;
	struct llm_model *model;
	int32_t n_vocab; /* the model's (logits per token) */
};

/* Opens @path, builds its tokenizer (a file without one is refused), opens
 * @device and loads the model with a context of @n_ctx tokens (0: the
 * model's, at most 4096). Returns an enum cli_exit, after a message naming
 * what failed; @s is complete only on CLI_EXIT_OK. */
int llm_session_open(const char *cmd, const char *path, const char *device, int64_t n_ctx,
                     struct llm_session *s);
void llm_session_close(struct llm_session *s);

/* Tokenizes @text (@len bytes) into a malloc'd array (*ids, *n). -1 after
 * a message when it is not valid UTF-8. */
int llm_tokenize(const char *cmd, const struct llm_session *s, const char *text, size_t len,
                 int add_bos, int special, int32_t **ids, int64_t *n);

/* Appends the text of token @id to a growing buffer (for --json). */
struct llm_text {
	char *p;
	size_t len, cap;
};
int llm_text_append_token(struct llm_text *t, const struct tokenizer *tok, int32_t id);
/* Writes the piece of @id to @f (flushed: streaming output). */
void llm_print_token(FILE *f, const struct tokenizer *tok, int32_t id);

/* 1 if the @n bytes at @s are well-formed UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF). */
bool llm_utf8_valid(const char *s, size_t n);
/* A NUL-terminated copy of @s with every ill-formed sequence replaced by
 * U+FFFD (so that JSON strings stay valid UTF-8); NULL if out of memory. */
char *llm_utf8_sanitize(const char *s, size_t n);

/* Sampling options shared by generate and chat (their values checked by
 * llm_parse_float and llm_sampler_create). */
/* Options that generate and chat share (-n, --temp, --top-k, --top-p,
 * --seed, --ctx), as option ids beside each command's own. */
enum { LLM_OPT_TOKENS = 100, LLM_OPT_TEMP, LLM_OPT_TOPK, LLM_OPT_TOPP, LLM_OPT_SEED, LLM_OPT_CTX };

/* Applies shared option @id with value @v. 0, or -1 after a usage message. */
int llm_sampling_option(const char *cmd, int id, const char *v, int64_t *n, int64_t *ctx,
                        struct llm_sample_params *sp, bool *seed_given);

bool llm_parse_float(const char *cmd, const char *what, const char *text, float *out);

/* Writes the device figures of the model's calls so far: prefill/decode
 * cycles per token, utilization and the decode bandwidth fraction (null
 * when the device has no cycle counter or nothing ran). */
void llm_json_perf(struct json *j, const struct llm_session *s);

#endif /* SAMPAN_HOST_LLM_CMD_H */
