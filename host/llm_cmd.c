/*
 * llm_cmd.c - what the language-model commands share (see llm_cmd.h).
 */
#include "llm_cmd.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int llm_session_open(const char *cmd, const char *path, const char *device, int64_t n_ctx,
                     struct llm_session *s)
{
	char err[512];
	int rc;

	memset(s, 0, sizeof(*s));
	if (gguf_open(path, &s->g, err, sizeof(err))) {
		cli_error("%s: %s", cmd, err);
		return CLI_EXIT_FAIL;
	}
	if (tok_create(s->g, &s->tok, err, sizeof(err))) {
		cli_error("%s: %s: no usable tokenizer: %s", cmd, path, err);
		goto err_close;
	}
	rc = cli_open_device(device, &s->dev, &s->info);
	if (rc != CLI_EXIT_OK) {
		tok_destroy(s->tok);
		gguf_close(s->g);
		memset(s, 0, sizeof(*s));
		return rc;
	}
	if (llm_model_load(s->dev, s->g, n_ctx, &s->model, err, sizeof(err))) {
		cli_error("%s: %s", cmd, err);
		goto err_close;
	}
	s->n_vocab = (int32_t)llm_model_config(s->model)->n_vocab;
	if (tok_n_vocab(s->tok) > s->n_vocab) {
		cli_error("%s: %s: the tokenizer has %d tokens, the model's embedding %d", cmd,
		          path, (int)tok_n_vocab(s->tok), (int)s->n_vocab);
		goto err_close;
	}
	return CLI_EXIT_OK;

err_close:
	llm_session_close(s);
	return CLI_EXIT_FAIL;
}

void llm_session_close(struct llm_session *s)
{
	llm_model_destroy(s->model);
	sampan_close(s->dev);
	tok_destroy(s->tok);
	gguf_close(s->g);
	memset(s, 0, sizeof(*s));
}

int llm_tokenize(const char *cmd, const struct llm_session *s, const char *text, size_t len,
                 int add_bos, int special, int32_t **ids, int64_t *n)
{
	int64_t need;
	int32_t *v;

	if (!llm_utf8_valid(text, len)) {
		cli_error("%s: the text is not valid UTF-8", cmd);
		return -1;
	}
	need = tok_encode(s->tok, text, len, add_bos, special, NULL, 0);
	if (need < 0) {
		cli_error("%s: the text cannot be tokenized (not valid UTF-8)", cmd);
		return -1;
	}
	v = malloc((size_t)(need ? need : 1) * sizeof(*v));
	if (!v) {
		cli_error("%s: out of memory tokenizing %zu bytes", cmd, len);
		return -1;
	}
	if (need && tok_encode(s->tok, text, len, add_bos, special, v, need) != need) {
		free(v);
		cli_error("%s: the tokenizer gave two different lengths for the same text", cmd);
		return -1;
	}
	*ids = v;
	*n = need;
	return 0;
}

int llm_text_append_token(struct llm_text *t, const struct tokenizer *tok, int32_t id)
{
	char buf[256];
	int n = tok_piece(tok, id, buf, sizeof(buf));
	char *big = NULL;
	const char *src = buf;

	if (n < 0)
		return 0;
	if ((size_t)n > sizeof(buf)) {
		big = malloc((size_t)n);
		if (!big || tok_piece(tok, id, big, (size_t)n) != n) {
			free(big);
			return -1;
		}
		src = big;
	}
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		char *p;

		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		p = realloc(t->p, cap);
		if (!p) {
			free(big);
			return -1;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, src, (size_t)n);
	t->len += (size_t)n;
	t->p[t->len] = 0;
	free(big);
	return 0;
}

void llm_print_token(FILE *f, const struct tokenizer *tok, int32_t id)
{
	struct llm_text t = {0};

	if (llm_text_append_token(&t, tok, id) == 0 && t.len)
		fwrite(t.p, 1, t.len, f);
	fflush(f);
	free(t.p);
}

/* Length of the well-formed UTF-8 sequence at @s (@n bytes left), 0 if
 * ill-formed (Unicode 15, table 3-7). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

bool llm_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(p + i, n - i);

		if (!l)
			return false;
		i += l;
	}
	return true;
}

char *llm_utf8_sanitize(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char *o = malloc(3 * n + 1), *q = o;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(p + i, n - i);

		if (l && !(l == 1 && p[i] == 0)) {
			memcpy(q, p + i, l);
			q += l;
			i += l;
		} else {
			memcpy(q, "\xef\xbf\xbd", 3);
			q += 3;
			i++;
		}
	}
	*q = 0;
	return o;
}

bool llm_parse_float(const char *cmd, const char *what, const char *text, float *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(d)) {
		cli_usage_error(cmd, "%s %s: expected a finite number", what, text);
		return false;
	}
	*out = (float)d;
	return true;
}

void llm_json_perf(struct json *j, const struct llm_session *s)
{
	struct llm_perf p;
	bool clock;

	llm_model_perf(s->model, &p);
	clock = p.prefill.cycles + p.decode.cycles > 0;
	json_double(j, "device_cycles_per_token",
	            clock && p.decode.tokens ? llm_perf_cycles_per_token(&p.decode) : NAN);
	json_double(j, "device_cycles_per_prompt_token",
	            clock && p.prefill.tokens ? llm_perf_cycles_per_token(&p.prefill) : NAN);
	json_double(j, "utilization_prefill",
	            clock && p.prefill.tokens ? llm_perf_utilization(&p.prefill, &s->info) : NAN);
	json_double(j, "utilization_decode",
	            clock && p.decode.tokens ? llm_perf_utilization(&p.decode, &s->info) : NAN);
	json_double(j, "bandwidth_fraction_decode",
	            clock && p.decode.tokens
	                ? llm_perf_bandwidth_fraction(s->model, &p.decode, &s->info)
	                : NAN);
	json_uint(j, "weight_bytes", llm_model_weight_bytes(s->model));
	json_uint(j, "device_calls", p.prefill.calls + p.decode.calls);
	json_uint(j, "bus_bytes", s->info.bus_bytes);
	if (s->info.clock_mhz && clock && p.decode.tokens)
		json_double(j, "tokens_per_s_at_clock",
		            s->info.clock_mhz * 1e6 / llm_perf_cycles_per_token(&p.decode));
	else
		json_null(j, "tokens_per_s_at_clock");
}

int llm_sampling_option(const char *cmd, int id, const char *v, int64_t *n, int64_t *ctx,
                        struct llm_sample_params *sp, bool *seed_given)
{
	int64_t i64;

	switch (id) {
	case LLM_OPT_TOKENS:
		return cli_parse_int(cmd, "-n", v, 1, 1 << 20, n) ? 0 : -1;
	case LLM_OPT_TEMP:
		return llm_parse_float(cmd, "--temp", v, &sp->temp) ? 0 : -1;
	case LLM_OPT_TOPK:
		if (!cli_parse_int(cmd, "--top-k", v, 0, INT32_MAX, &i64))
			return -1;
		sp->top_k = (int32_t)i64;
		return 0;
	case LLM_OPT_TOPP:
		return llm_parse_float(cmd, "--top-p", v, &sp->top_p) ? 0 : -1;
	case LLM_OPT_SEED:
		if (!cli_parse_int(cmd, "--seed", v, 0, INT64_MAX, &i64))
			return -1;
		sp->seed = (uint64_t)i64;
		*seed_given = true;
		return 0;
	case LLM_OPT_CTX:
		return cli_parse_int(cmd, "--ctx", v, 1, 1 << 20, ctx) ? 0 : -1;
	default:
		return -1;
	}
}
