/*
 * sample.c - token sampling (see sample.h).
 */
#include "sample.h"

#include <math.h>
#include <stdlib.h>

struct cand {
	int32_t id;
	float logit;
	double p;
};

struct llm_sampler {
	struct llm_sample_params p;
	int32_t n_vocab;
	uint64_t state; /* splitmix64 */
	struct cand *c; /* (n_vocab) */
};

struct llm_sampler *llm_sampler_create(const struct llm_sample_params *p, int32_t n_vocab,
                                       const char **why)
{
	struct llm_sampler *s;

	if (!(p->temp >= 0) || isinf(p->temp)) {
		*why = "temperature must be a finite number >= 0";
		return NULL;
	}
	if (p->top_k < 0) {
		*why = "top-k must be >= 0 (0: no limit)";
		return NULL;
	}
	if (!(p->top_p > 0 && p->top_p <= 1)) {
		*why = "top-p must be in (0, 1]";
		return NULL;
	}
	if (n_vocab < 1) {
		*why = "empty vocabulary";
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->c = malloc((size_t)n_vocab * sizeof(*s->c));
	if (!s || !s->c) {
		free(s);
		*why = "out of memory";
		return NULL;
	}
	s->p = *p;
	s->n_vocab = n_vocab;
	s->state = p->seed;
	return s;
}

void llm_sampler_destroy(struct llm_sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s);
}

int32_t llm_argmax(const float *logits, int32_t n)
{
	int32_t best = 0;

	for (int32_t i = 1; i < n; i++)
		if (logits[i] > logits[best] || (isnan(logits[best]) && !isnan(logits[i])))
			best = i;
	return best;
}

static uint64_t next_u64(struct llm_sampler *s)
{
	uint64_t z = (s->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Larger logit first; equal logits by lower id; NaN last. */
static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int xn = isnan(x->logit), yn = isnan(y->logit);

	if (xn != yn)
		return xn - yn;
	if (!xn && x->logit != y->logit)
		return x->logit > y->logit ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* Softmax of c[0..n) logits scaled by 1/temp into c[].p (c sorted, c[0]
 * the largest). */
static void softmax(struct cand *c, int32_t n, double temp)
{
	double sum = 0;

	for (int32_t i = 0; i < n; i++) {
		c[i].p = isnan(c[i].logit) ? 0 : exp(((double)c[i].logit - c[0].logit) / temp);
		sum += c[i].p;
	}
	for (int32_t i = 0; i < n; i++)
		c[i].p /= sum;
}

int32_t llm_sample(struct llm_sampler *s, const float *logits)
{
	int32_t n = s->n_vocab;
	double u, acc;

	if (s->p.temp == 0)
		return llm_argmax(logits, n);
	for (int32_t i = 0; i < n; i++) {
		s->c[i].id = i;
		s->c[i].logit = logits[i];
	}
	qsort(s->c, (size_t)n, sizeof(*s->c), cand_cmp);
	if (isnan(s->c[0].logit))
		return s->c[0].id;
	if (s->p.top_k > 0 && s->p.top_k < n)
		n = s->p.top_k;
	if (s->p.top_p < 1) {
		softmax(s->c, n, 1.0);
		acc = 0;
		for (int32_t i = 0; i < n; i++) {
			acc += s->c[i].p;
			if (acc >= s->p.top_p) {
				n = i + 1;
				break;
			}
		}
	}
	softmax(s->c, n, s->p.temp);
	/* 53 random bits: u in [0, 1). */
	u = (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
	acc = 0;
	for (int32_t i = 0; i < n; i++) {
		acc += s->c[i].p;
		if (u < acc)
			return s->c[i].id;
	}
	return s->c[n - 1].id;
}
