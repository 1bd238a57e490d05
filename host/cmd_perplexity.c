/*
 * cmd_perplexity.c - `sampan perplexity`: llama.cpp's perplexity of a GGUF
 * language model on a text file, every projection on the device.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileio.h"
#include "llm_cmd.h"

/* Largest text file read. */
#define PPL_MAX_FILE (256u << 20)

static const char perplexity_help[] =
    "usage: sampan perplexity MODEL.gguf -f TEXT_FILE [-d DEV] [--ctx N] [--json]\n"
    "\n"
    "Perplexity of a llama or qwen2 GGUF model on a UTF-8 text file, as\n"
    "llama.cpp's llama-perplexity defines it: the text is tokenized whole (BOS\n"
    "first if the model adds one) and cut into chunks of N tokens; each chunk\n"
    "runs from an empty KV cache with its first token replaced by BOS (if the\n"
    "model adds one), and the second half of each chunk is scored: the\n"
    "negative log-likelihood of each token from N/2 + 1 on, given those before.\n"
    "PPL = exp(mean NLL) over all chunks. The file must hold at least 2N tokens.\n"
    "\n"
    "  -f, --file FILE    the text\n"
    "  -d, --device DEV   device to use (default: sim); see 'sampan devices'\n"
    "  -c, --ctx N        tokens per chunk (default 512, at most the model's\n"
    "                     context_length)\n"
    "      --chunks N     score only the first N chunks\n"
    "  -q, --quiet        no running estimate on stderr\n"
    "      --json         print one JSON object on stdout\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 1 failure (bad model, text or device), 2 usage error.\n";

enum {
	OPT_HELP = 1,
	OPT_FILE,
	OPT_DEVICE,
	OPT_CTX,
	OPT_CHUNKS,
	OPT_QUIET,
	OPT_JSON,
};

static const struct cli_option perplexity_options[] = {
    {"help", 'h', false, OPT_HELP},    {"file", 'f', true, OPT_FILE},
    {"device", 'd', true, OPT_DEVICE}, {"ctx", 'c', true, OPT_CTX},
    {"chunks", 0, true, OPT_CHUNKS},   {"quiet", 'q', false, OPT_QUIET},
    {"json", 0, false, OPT_JSON},      {NULL, 0, false, 0},
};

struct ppl_args {
	const char *model, *file, *device;
	int64_t ctx, chunks;
	bool quiet, json;
};

static int parse_args(int argc, char **argv, struct ppl_args *a)
{
	struct cli_parser p;
	const char *v;
	int id = CLI_OPT_END;

	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_arg(&p, perplexity_options, &v, &a->model)) > 0) {
		switch (id) {
		case OPT_HELP:
			fputs(perplexity_help, stdout);
			return -1;
		case OPT_FILE:
			a->file = v;
			break;
		case OPT_DEVICE:
			a->device = v;
			break;
		case OPT_CTX:
			if (!cli_parse_int("perplexity", "--ctx", v, 4, 1 << 20, &a->ctx))
				return CLI_EXIT_USAGE;
			break;
		case OPT_CHUNKS:
			if (!cli_parse_int("perplexity", "--chunks", v, 1, INT32_MAX, &a->chunks))
				return CLI_EXIT_USAGE;
			break;
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		}
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	if (!a->model)
		return cli_usage_error("perplexity", "no model given");
	if (!a->file)
		return cli_usage_error("perplexity", "no text file given (-f FILE)");
	return CLI_EXIT_OK;
}

/* The context of the run: --ctx, else 512, at most context_length. */
static int64_t choose_ctx(const struct ppl_args *a, const struct gguf *g)
{
	struct gguf_str arch;
	char key[96];
	uint64_t train = 0;

	if (a->ctx)
		return a->ctx;
	if (gguf_get_str(g, "general.architecture", &arch) == 0 && arch.len < 64) {
		snprintf(key, sizeof(key), "%.*s.context_length", (int)arch.len, arch.p);
		if (gguf_get_uint(g, key, &train) == 0 && train >= 4 && train < 512)
			return (int64_t)train;
	}
	return 512;
}

int cmd_perplexity(int argc, char **argv)
{
	struct ppl_args a;
	struct llm_session s;
	char *text = NULL, err[512];
	size_t len = 0;
	int32_t *tokens = NULL, *chunk = NULL;
	int64_t ntok = 0, ctx, first, n_chunk, count = 0;
	float *logits = NULL;
	double nll = 0, nll2 = 0, t0, t1, ppl, ppl_err;
	int rc;
	struct gguf *probe = NULL;

	memset(&a, 0, sizeof(a));
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (file_read_all(a.file, PPL_MAX_FILE, (uint8_t **)&text, &len, err, sizeof(err))) {
		cli_error("perplexity: %s", err);
		return CLI_EXIT_FAIL;
	}
	if (!llm_utf8_valid(text, len)) {
		cli_error("perplexity: %s is not valid UTF-8", a.file);
		free(text);
		return CLI_EXIT_FAIL;
	}
	/* the chunk size depends on the model's context_length */
	if (gguf_open(a.model, &probe, err, sizeof(err))) {
		cli_error("perplexity: %s", err);
		free(text);
		return CLI_EXIT_FAIL;
	}
	ctx = choose_ctx(&a, probe);
	gguf_close(probe);
	rc = llm_session_open("perplexity", a.model, a.device, ctx, &s);
	if (rc) {
		free(text);
		return rc;
	}
	rc = CLI_EXIT_FAIL;
	if (llm_tokenize("perplexity", &s, text, len, tok_add_bos(s.tok), 0, &tokens, &ntok))
		goto out;
	if (ntok < 2 * ctx) {
		cli_error(
		    "perplexity: %s tokenizes to %lld tokens; a context of %lld needs at least "
		    "%lld (use a longer text or a smaller --ctx)",
		    a.file, (long long)ntok, (long long)ctx, (long long)(2 * ctx));
		goto out;
	}
	n_chunk = ntok / ctx;
	if (a.chunks && a.chunks < n_chunk)
		n_chunk = a.chunks;
	first = ctx / 2;
	logits = malloc((size_t)(ctx - first) * (size_t)s.n_vocab * sizeof(*logits));
	chunk = malloc((size_t)ctx * sizeof(*chunk));
	if (!logits || !chunk) {
		cli_error("perplexity: out of memory for %lld x %d logits",
		          (long long)(ctx - first), (int)s.n_vocab);
		goto out;
	}
	if (!a.quiet)
		fprintf(stderr, "perplexity: %lld tokens, %lld chunks of %lld, scoring %lld each\n",
		        (long long)ntok, (long long)n_chunk, (long long)ctx,
		        (long long)(ctx - first - 1));
	t0 = cli_now();
	for (int64_t i = 0; i < n_chunk; i++) {
		const int32_t *ct = tokens + i * ctx;

		memcpy(chunk, ct, (size_t)ctx * sizeof(*chunk));
		if (tok_add_bos(s.tok) && tok_bos(s.tok) >= 0)
			chunk[0] = tok_bos(s.tok);
		llm_model_reset(s.model);
		if (llm_forward(s.model, chunk, ctx, first, logits, err, sizeof(err))) {
			cli_error("perplexity: chunk %lld: %s", (long long)i + 1, err);
			goto out;
		}
		/* row j (position first + j) predicts token first + j + 1 */
		for (int64_t j = 0; j < ctx - first - 1; j++) {
			const float *row = logits + (size_t)j * (size_t)s.n_vocab;
			float mx = row[0];
			double sum = 0, lp;

			for (int32_t v = 1; v < s.n_vocab; v++)
				mx = row[v] > mx ? row[v] : mx;
			for (int32_t v = 0; v < s.n_vocab; v++)
				sum += exp((double)row[v] - mx);
			lp = (double)row[ct[first + j + 1]] - mx - log(sum);
			nll -= lp;
			nll2 += lp * lp;
			count++;
		}
		if (!a.quiet) {
			fprintf(stderr, "[%lld]%.4f,", (long long)i + 1, exp(nll / (double)count));
			fflush(stderr);
		}
	}
	t1 = cli_now();
	if (!a.quiet)
		fputc('\n', stderr);
	nll /= (double)count;
	nll2 /= (double)count;
	ppl = exp(nll);
	/* llama.cpp's estimate of the standard error of PPL */
	ppl_err = count > 1 && nll2 - nll * nll > 0
	              ? ppl * sqrt((nll2 - nll * nll) / (double)(count - 1))
	              : 0;
	if (a.json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "model", a.model);
		json_string(&j, "file", a.file);
		json_string(&j, "device", s.info.name);
		json_double(&j, "perplexity", ppl);
		json_double(&j, "perplexity_error", ppl_err);
		json_double(&j, "nll", nll);
		json_int(&j, "ctx", ctx);
		json_int(&j, "chunks", n_chunk);
		json_int(&j, "file_tokens", ntok);
		json_int(&j, "scored_tokens", count);
		json_double(&j, "tokens_per_s",
		            t1 > t0 ? (double)(n_chunk * ctx) / (t1 - t0) : NAN);
		llm_json_perf(&j, &s);
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("Final estimate: PPL = %.4f +/- %.5f (%lld chunks of %lld tokens, %lld "
		       "scored)\n",
		       ppl, ppl_err, (long long)n_chunk, (long long)ctx, (long long)count);
	}
	rc = CLI_EXIT_OK;
out:
	free(text);
	free(tokens);
	free(chunk);
	free(logits);
	llm_session_close(&s);
	return rc;
}
