/*
 * cmd_generate.c - `sampan generate`: text from a GGUF language model, every
 * projection on the device, streamed as it is produced.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "llm_cmd.h"

static const char generate_help[] =
    "usage: sampan generate MODEL.gguf [-d DEV] -p TEXT [-n N] [options]\n"
    "\n"
    "Continues TEXT with a llama or qwen2 GGUF model (Q8_0, Q4_0, F16 or F32\n"
    "weights; each projection runs on the device as Q8_0) and writes the new\n"
    "text to stdout as it is produced. Stops after N tokens, at an\n"
    "end-of-generation token, or when the context is full.\n"
    "\n"
    "  -d, --device DEV   device to use (default: sim); see 'sampan devices'\n"
    "  -p, --prompt TEXT  the prompt (UTF-8; control tokens such as <|im_start|>\n"
    "                     written in it become their ids, as llama-cli does)\n"
    "  -n, --tokens N     most tokens to generate (default 128)\n"
    "      --temp T       temperature; 0 is greedy (default 0.8)\n"
    "      --top-k K      sample among the K most likely tokens; 0: all (default 40)\n"
    "      --top-p P      ... and the most likely whose probabilities reach P\n"
    "                     (0 < P <= 1; default 0.95)\n"
    "      --seed S       seed of the sampler (default: from the clock; --json\n"
    "                     prints it)\n"
    "      --ctx N        context (KV cache) in tokens (default: the model's, at\n"
    "                     most 4096)\n"
    "      --json         print one JSON object on stdout instead of the text:\n"
    "                     prompt_tokens (ids, BOS included), tokens, text,\n"
    "                     prompt_tokens_per_s, tokens_per_s, device figures\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 1 failure (bad model, prompt or device), 2 usage error.\n";

enum {
	OPT_HELP = 1,
	OPT_DEVICE,
	OPT_PROMPT,
	OPT_JSON,
};

static const struct cli_option generate_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"device", 'd', true, OPT_DEVICE},
    {"prompt", 'p', true, OPT_PROMPT},
    {"tokens", 'n', true, LLM_OPT_TOKENS},
    {"temp", 0, true, LLM_OPT_TEMP},
    {"top-k", 0, true, LLM_OPT_TOPK},
    {"top-p", 0, true, LLM_OPT_TOPP},
    {"seed", 0, true, LLM_OPT_SEED},
    {"ctx", 0, true, LLM_OPT_CTX},
    {"json", 0, false, OPT_JSON},
    {NULL, 0, false, 0},
};

struct generate_args {
	const char *model, *device, *prompt;
	int64_t n, ctx;
	struct llm_sample_params sp;
	bool seed_given, json;
};

/* Returns an exit code, or -1 after printing the help. */
static int parse_args(int argc, char **argv, struct generate_args *a)
{
	struct cli_parser p;
	const char *v;
	const char *why;
	int id = CLI_OPT_END;

	a->n = 128;
	a->sp.temp = 0.8f;
	a->sp.top_k = 40;
	a->sp.top_p = 0.95f;
	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_arg(&p, generate_options, &v, &a->model)) > 0) {
		switch (id) {
		case OPT_HELP:
			fputs(generate_help, stdout);
			return -1;
		case OPT_DEVICE:
			a->device = v;
			break;
		case OPT_PROMPT:
			a->prompt = v;
			break;
		case LLM_OPT_TOKENS:
		case LLM_OPT_TEMP:
		case LLM_OPT_TOPK:
		case LLM_OPT_TOPP:
		case LLM_OPT_SEED:
		case LLM_OPT_CTX:
			if (llm_sampling_option("generate", id, v, &a->n, &a->ctx, &a->sp,
			                        &a->seed_given))
				return CLI_EXIT_USAGE;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		}
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	if (!a->model)
		return cli_usage_error("generate", "no model given");
	if (!a->prompt)
		return cli_usage_error("generate", "no prompt given (-p TEXT)");
	/* the sampler's own checks, before anything is loaded */
	{
		struct llm_sampler *s = llm_sampler_create(&a->sp, 1, &why);

		if (!s)
			return cli_usage_error("generate", "%s", why);
		llm_sampler_destroy(s);
	}
	if (!a->seed_given)
		a->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	return CLI_EXIT_OK;
}

static void print_ids(struct json *j, const char *key, const int32_t *ids, int64_t n)
{
	json_array_begin(j, key);
	for (int64_t i = 0; i < n; i++)
		json_int(j, NULL, ids[i]);
	json_array_end(j);
}

int cmd_generate(int argc, char **argv)
{
	struct generate_args a;
	struct llm_session s;
	struct llm_sampler *smp = NULL;
	struct llm_text text = {0};
	int32_t *prompt = NULL, *out = NULL;
	int64_t np = 0, ngen = 0;
	float *logits = NULL;
	char err[512];
	const char *why;
	double t0, t1, t2;
	int rc;
	bool ctx_full = false;

	memset(&a, 0, sizeof(a));
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (!llm_utf8_valid(a.prompt, strlen(a.prompt))) {
		cli_error("generate: the prompt is not valid UTF-8");
		return CLI_EXIT_FAIL;
	}
	rc = llm_session_open("generate", a.model, a.device, a.ctx, &s);
	if (rc)
		return rc;
	rc = CLI_EXIT_FAIL;
	if (llm_tokenize("generate", &s, a.prompt, strlen(a.prompt), tok_add_bos(s.tok), 1, &prompt,
	                 &np))
		goto out;
	if (np == 0) {
		cli_error("generate: the prompt is empty (and the model adds no BOS token)");
		goto out;
	}
	if (np >= llm_model_config(s.model)->n_ctx) {
		cli_error("generate: the prompt is %lld tokens, longer than the context of %lld "
		          "(--ctx) leaves room for",
		          (long long)np, (long long)llm_model_config(s.model)->n_ctx);
		goto out;
	}
	smp = llm_sampler_create(&a.sp, s.n_vocab, &why);
	logits = malloc((size_t)s.n_vocab * sizeof(*logits));
	out = malloc((size_t)a.n * sizeof(*out));
	if (!smp || !logits || !out) {
		cli_error("generate: out of memory");
		goto out;
	}

	t0 = cli_now();
	if (llm_forward(s.model, prompt, np, np - 1, logits, err, sizeof(err))) {
		cli_error("generate: %s", err);
		goto out;
	}
	t1 = cli_now();
	for (;;) {
		int32_t t = llm_sample(smp, logits);

		out[ngen++] = t;
		if (t == tok_eos(s.tok) || tok_is_eog(s.tok, t))
			break;
		if (a.json) {
			if (llm_text_append_token(&text, s.tok, t)) {
				cli_error("generate: out of memory");
				goto out;
			}
		} else {
			llm_print_token(stdout, s.tok, t);
		}
		if (ngen == a.n)
			break;
		if (llm_model_pos(s.model) >= llm_model_config(s.model)->n_ctx) {
			ctx_full = true;
			break;
		}
		if (llm_forward(s.model, &t, 1, 0, logits, err, sizeof(err))) {
			if (!a.json)
				putchar('\n');
			cli_error("generate: %s", err);
			goto out;
		}
	}
	t2 = cli_now();
	if (ctx_full)
		cli_error("generate: the context of %lld tokens is full; stopped after %lld tokens",
		          (long long)llm_model_config(s.model)->n_ctx, (long long)ngen);
	if (a.json) {
		struct json j;
		char *clean = llm_utf8_sanitize(text.p ? text.p : "", text.len);

		if (!clean) {
			cli_error("generate: out of memory");
			goto out;
		}
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "model", a.model);
		json_string(&j, "device", s.info.name);
		json_string(&j, "architecture", llm_model_config(s.model)->arch_name);
		print_ids(&j, "prompt_tokens", prompt, np);
		print_ids(&j, "tokens", out, ngen);
		json_string(&j, "text", clean);
		json_double(&j, "temp", a.sp.temp);
		json_int(&j, "top_k", a.sp.top_k);
		json_double(&j, "top_p", a.sp.top_p);
		json_uint(&j, "seed", a.sp.seed);
		json_int(&j, "ctx", llm_model_config(s.model)->n_ctx);
		json_double(&j, "prompt_tokens_per_s", t1 > t0 ? (double)np / (t1 - t0) : NAN);
		json_double(&j, "tokens_per_s", t2 > t1 ? (double)ngen / (t2 - t1) : NAN);
		llm_json_perf(&j, &s);
		json_object_end(&j);
		json_finish(&j);
		free(clean);
	} else {
		putchar('\n');
		fflush(stdout);
	}
	rc = CLI_EXIT_OK;
out:
	free(text.p);
	free(prompt);
	free(out);
	free(logits);
	llm_sampler_destroy(smp);
	llm_session_close(&s);
	return rc;
}
