/*
 * cmd_chat.c - `sampan chat`: an interactive conversation with a GGUF
 * language model in its chat template, the history kept in the KV cache.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "llm_cmd.h"

static const char chat_help[] =
    "usage: sampan chat MODEL.gguf [-d DEV] [options]\n"
    "\n"
    "Talks with a llama or qwen2 GGUF model: each line read from stdin is a\n"
    "user turn, the model's reply goes to stdout as it is produced. The whole\n"
    "conversation stays in the KV cache (each turn runs only its new tokens);\n"
    "it ends at end of input, on a line '/exit', or when the context is full.\n"
    "\n"
    "Templates (chosen from tokenizer.chat_template, else from the vocabulary):\n"
    "  chatml   <|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n (qwen2)\n"
    "  llama3   <|start_header_id|>user<|end_header_id|>\\n\\n...<|eot_id|>...\n"
    "  llama2   <s>[INST] ... [/INST] ... </s>\n"
    "  plain    'User: ...\\nAssistant:' (a model with none of these: a base\n"
    "           model, which may not stop by itself: -n bounds each reply)\n"
    "\n"
    "  -d, --device DEV     device to use (default: sim); see 'sampan devices'\n"
    "      --template NAME  chatml, llama3, llama2 or plain (default: detected)\n"
    "      --system TEXT    a system prompt\n"
    "  -n, --tokens N       most tokens per reply (default 256)\n"
    "      --temp T         temperature; 0 is greedy (default 0.8)\n"
    "      --top-k K        (default 40; 0: all)\n"
    "      --top-p P        (default 0.95)\n"
    "      --seed S         seed of the sampler (default: from the clock)\n"
    "      --ctx N          context (KV cache) in tokens (default: the model's, at\n"
    "                       most 4096)\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 ok, 1 failure (bad model, input or device), 2 usage error.\n";

enum {
	OPT_HELP = 1,
	OPT_DEVICE,
	OPT_TEMPLATE,
	OPT_SYSTEM,
};

static const struct cli_option chat_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"device", 'd', true, OPT_DEVICE},
    {"template", 0, true, OPT_TEMPLATE},
    {"system", 0, true, OPT_SYSTEM},
    {"tokens", 'n', true, LLM_OPT_TOKENS},
    {"temp", 0, true, LLM_OPT_TEMP},
    {"top-k", 0, true, LLM_OPT_TOPK},
    {"top-p", 0, true, LLM_OPT_TOPP},
    {"seed", 0, true, LLM_OPT_SEED},
    {"ctx", 0, true, LLM_OPT_CTX},
    {NULL, 0, false, 0},
};

enum chat_template { TPL_AUTO, TPL_CHATML, TPL_LLAMA3, TPL_LLAMA2, TPL_PLAIN };
static const char *const tpl_names[] = {"auto", "chatml", "llama3", "llama2", "plain"};

struct chat_args {
	const char *model, *device, *system;
	enum chat_template tpl;
	int64_t n, ctx;
	struct llm_sample_params sp;
	bool seed_given;
};

static int parse_args(int argc, char **argv, struct chat_args *a)
{
	struct cli_parser p;
	const char *v, *why;
	int id = CLI_OPT_END;

	a->n = 256;
	a->sp.temp = 0.8f;
	a->sp.top_k = 40;
	a->sp.top_p = 0.95f;
	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_arg(&p, chat_options, &v, &a->model)) > 0) {
		switch (id) {
		case OPT_HELP:
			fputs(chat_help, stdout);
			return -1;
		case OPT_DEVICE:
			a->device = v;
			break;
		case OPT_TEMPLATE:
			a->tpl = TPL_AUTO;
			for (int i = 1; i < 5; i++)
				if (strcmp(v, tpl_names[i]) == 0)
					a->tpl = (enum chat_template)i;
			if (a->tpl == TPL_AUTO)
				return cli_usage_error("chat",
				                       "--template %s: expected chatml, llama3, "
				                       "llama2 or plain",
				                       v);
			break;
		case OPT_SYSTEM:
			a->system = v;
			break;
		case LLM_OPT_TOKENS:
		case LLM_OPT_TEMP:
		case LLM_OPT_TOPK:
		case LLM_OPT_TOPP:
		case LLM_OPT_SEED:
		case LLM_OPT_CTX:
			if (llm_sampling_option("chat", id, v, &a->n, &a->ctx, &a->sp,
			                        &a->seed_given))
				return CLI_EXIT_USAGE;
			break;
		}
	}
	if (id == CLI_OPT_ERROR)
		return CLI_EXIT_USAGE;
	if (!a->model)
		return cli_usage_error("chat", "no model given");
	{
		struct llm_sampler *s = llm_sampler_create(&a->sp, 1, &why);

		if (!s)
			return cli_usage_error("chat", "%s", why);
		llm_sampler_destroy(s);
	}
	if (a->system && !llm_utf8_valid(a->system, strlen(a->system))) {
		cli_error("chat: the system prompt is not valid UTF-8");
		return CLI_EXIT_FAIL;
	}
	if (!a->seed_given)
		a->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	return CLI_EXIT_OK;
}

/* The template of the model: its tokenizer.chat_template names the
 * markers, else the vocabulary has them, else plain text. */
static enum chat_template detect_template(const struct llm_session *s)
{
	struct gguf_str t;

	if (gguf_get_str(s->g, "tokenizer.chat_template", &t) == 0) {
		char *z = malloc(t.len + 1);
		enum chat_template r = TPL_AUTO;

		if (z) {
			memcpy(z, t.p, t.len);
			z[t.len] = 0;
			if (strstr(z, "<|im_start|>"))
				r = TPL_CHATML;
			else if (strstr(z, "<|start_header_id|>"))
				r = TPL_LLAMA3;
			else if (strstr(z, "[INST]"))
				r = TPL_LLAMA2;
			free(z);
		}
		if (r != TPL_AUTO)
			return r;
	}
	if (tok_find(s->tok, "<|im_start|>") >= 0 && tok_find(s->tok, "<|im_end|>") >= 0)
		return TPL_CHATML;
	if (tok_find(s->tok, "<|start_header_id|>") >= 0 && tok_find(s->tok, "<|eot_id|>") >= 0)
		return TPL_LLAMA3;
	return TPL_PLAIN;
}

/* A growing string. */
struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/* The text of one user turn: what closes the previous reply (turn > 0),
 * the system prompt (turn 0), the message and the opening of the reply. */
static void format_turn(struct buf *b, enum chat_template tpl, int turn, const char *sys,
                        const char *msg)
{
	switch (tpl) {
	case TPL_CHATML:
		if (turn)
			put(b, "<|im_end|>\n");
		else if (sys)
			put(b, "<|im_start|>system\n"), put(b, sys), put(b, "<|im_end|>\n");
		put(b, "<|im_start|>user\n"), put(b, msg);
		put(b, "<|im_end|>\n<|im_start|>assistant\n");
		break;
	case TPL_LLAMA3:
		if (turn)
			put(b, "<|eot_id|>");
		else if (sys)
			put(b, "<|start_header_id|>system<|end_header_id|>\n\n"), put(b, sys),
			    put(b, "<|eot_id|>");
		put(b, "<|start_header_id|>user<|end_header_id|>\n\n"), put(b, msg);
		put(b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
		break;
	case TPL_LLAMA2:
		if (turn)
			put(b, " </s><s>");
		put(b, "[INST] ");
		if (!turn && sys)
			put(b, "<<SYS>>\n"), put(b, sys), put(b, "\n<</SYS>>\n\n");
		put(b, msg), put(b, " [/INST]");
		break;
	default:
		if (turn)
			put(b, "\n");
		else if (sys)
			put(b, sys), put(b, "\n\n");
		put(b, "User: "), put(b, msg), put(b, "\nAssistant:");
		break;
	}
}

int cmd_chat(int argc, char **argv)
{
	struct chat_args a;
	struct llm_session s;
	struct llm_sampler *smp = NULL;
	struct buf turn = {0};
	char *line = NULL, *msg, err[512];
	size_t line_cap = 0;
	float *logits = NULL;
	int rc, nturn = 0;
	const char *why;
	bool tty = isatty(0), full = false;
	enum chat_template tpl;

	memset(&a, 0, sizeof(a));
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? CLI_EXIT_OK : rc;
	rc = llm_session_open("chat", a.model, a.device, a.ctx, &s);
	if (rc)
		return rc;
	rc = CLI_EXIT_FAIL;
	tpl = a.tpl != TPL_AUTO ? a.tpl : detect_template(&s);
	smp = llm_sampler_create(&a.sp, s.n_vocab, &why);
	logits = malloc((size_t)s.n_vocab * sizeof(*logits));
	if (!smp || !logits) {
		cli_error("chat: out of memory");
		goto out;
	}
	fprintf(stderr, "chat: %s template, context of %lld tokens; '/exit' or end of input ends\n",
	        tpl_names[tpl], (long long)llm_model_config(s.model)->n_ctx);
	for (;;) {
		ssize_t n;
		int32_t *ids = NULL;
		int64_t nid = 0, ngen = 0;

		if (tty) {
			fputs("> ", stderr);
			fflush(stderr);
		}
		n = getline(&line, &line_cap, stdin);
		if (n < 0)
			break;
		/* The message without the blanks around it, as Meta's llama 2
		 * and 3 formats (and llama.cpp's llama3 template) strip it. */
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			line[--n] = 0;
		msg = line;
		while (isspace((unsigned char)*msg))
			msg++, n--;
		if (strcmp(msg, "/exit") == 0)
			break;
		if (n == 0)
			continue;
		if (!llm_utf8_valid(msg, (size_t)n) || memchr(msg, 0, (size_t)n)) {
			cli_error("chat: line %d is not valid UTF-8 text", nturn + 1);
			goto out;
		}
		turn.len = 0;
		format_turn(&turn, tpl, nturn, a.system, msg);
		if (turn.oom) {
			cli_error("chat: out of memory");
			goto out;
		}
		if (llm_tokenize("chat", &s, turn.p, turn.len, nturn == 0 && tok_add_bos(s.tok), 1,
		                 &ids, &nid))
			goto out;
		if (nid >= llm_model_config(s.model)->n_ctx - llm_model_pos(s.model)) {
			cli_error("chat: the context of %lld tokens is full (%lld used, this turn "
			          "needs %lld more); ending the chat",
			          (long long)llm_model_config(s.model)->n_ctx,
			          (long long)llm_model_pos(s.model), (long long)nid + 1);
			free(ids);
			break;
		}
		if (nid && llm_forward(s.model, ids, nid, nid - 1, logits, err, sizeof(err))) {
			cli_error("chat: %s", err);
			free(ids);
			goto out;
		}
		free(ids);
		nturn++;
		/* the reply: the tokens sampled are fed back, the end-of-turn token
		 * is not (the next turn's text closes the reply) */
		for (;;) {
			int32_t t = llm_sample(smp, logits);

			if (t == tok_eos(s.tok) || tok_is_eog(s.tok, t))
				break;
			llm_print_token(stdout, s.tok, t);
			if (llm_model_pos(s.model) >= llm_model_config(s.model)->n_ctx) {
				full = true;
				break;
			}
			if (llm_forward(s.model, &t, 1, 0, logits, err, sizeof(err))) {
				putchar('\n');
				cli_error("chat: %s", err);
				goto out;
			}
			if (++ngen == a.n)
				break;
		}
		putchar('\n');
		fflush(stdout);
		if (full) {
			cli_error("chat: the context of %lld tokens is full; ending the chat",
			          (long long)llm_model_config(s.model)->n_ctx);
			break;
		}
	}
	rc = CLI_EXIT_OK;
out:
	free(line);
	free(turn.p);
	free(logits);
	llm_sampler_destroy(smp);
	llm_session_close(&s);
	return rc;
}
