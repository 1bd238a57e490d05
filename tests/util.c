/*
 * util.c - helpers shared by the test binaries (see util.h).
 */
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

uint64_t test_seed(const char *what)
{
	const char *env = getenv("SAMPAN_TEST_SEED");
	uint64_t seed;

	if (env && *env) {
		char *end;

		errno = 0;
		seed = strtoull(env, &end, 0);
		if (errno || *end) {
			fprintf(stderr, "SAMPAN_TEST_SEED=%s is not a number\n", env);
			abort();
		}
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
		       ((uint64_t)getpid() << 32);
		seed &= 0xffffffffffffull; /* short enough to type */
	}
	fprintf(stderr, "[seed] %s: SAMPAN_TEST_SEED=%" PRIu64 "\n", what, seed);
	return seed;
}

void rng_init(struct rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t rng_u64(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0: the full range */

	if (span == 0)
		return (int64_t)rng_u64(r);
	return (int64_t)((uint64_t)lo + rng_u64(r) % span);
}

int32_t rng_i32(struct rng *r)
{
	return (int32_t)rng_range(r, INT32_MIN, INT32_MAX);
}

int32_t rng_i32_edgy(struct rng *r)
{
	static const int32_t fixed[] = {INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 0, 1,
	                                -1};
	int64_t p;

	switch (rng_range(r, 0, 3)) {
	case 0:
		return fixed[rng_range(r, 0, sizeof(fixed) / sizeof(fixed[0]) - 1)];
	case 1:
		p = (int64_t)1 << rng_range(r, 0, 31);
		p = (rng_range(r, 0, 1) ? p : -p) + rng_range(r, -1, 1);
		if (p > INT32_MAX)
			p = INT32_MAX;
		if (p < INT32_MIN)
			p = INT32_MIN;
		return (int32_t)p;
	default:
		return rng_i32(r);
	}
}

void fill_i8(struct rng *r, int8_t *p, size_t n, enum fill_pattern pattern)
{
	static const int8_t extremes[] = {-128, -127, 0, 126, 127};

	for (size_t i = 0; i < n; i++) {
		switch (pattern) {
		case FILL_MIN:
			p[i] = -128;
			break;
		case FILL_MAX:
			p[i] = 127;
			break;
		case FILL_ALTERNATE:
			p[i] = (i & 1) ? 127 : -128;
			break;
		case FILL_EXTREMES:
			p[i] = extremes[rng_range(r, 0, 4)];
			break;
		default:
			p[i] = (int8_t)rng_range(r, -128, 127);
			break;
		}
	}
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}
