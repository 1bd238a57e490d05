/*
 * util.h - helpers shared by the test binaries: reproducible random
 * numbers and operand generators.
 */
#ifndef SAMPAN_TEST_UTIL_H
#define SAMPAN_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The seed of a random test: SAMPAN_TEST_SEED from the environment when
 * set, else one drawn from the clock. Prints "<what>: SAMPAN_TEST_SEED=<s>"
 * to stderr so that a failure can be replayed. */
uint64_t test_seed(const char *what);

/* A small, fast generator (splitmix64); the state is the whole struct. */
struct rng {
	uint64_t state;
};

void rng_init(struct rng *r, uint64_t seed);
uint64_t rng_u64(struct rng *r);
/* Uniform in [lo, hi], both inclusive; lo <= hi. */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);
/* Uniform over all int32 values. */
int32_t rng_i32(struct rng *r);
/* An int32 that is an edge value (INT32_MIN, INT32_MAX, 0, +-1, powers of
 * two and their neighbours) half of the time, uniform otherwise. */
int32_t rng_i32_edgy(struct rng *r);

/* Patterns of int8 operands. */
enum fill_pattern {
	FILL_RANDOM,    /* uniform -128..127 */
	FILL_MIN,       /* all -128 */
	FILL_MAX,       /* all 127 */
	FILL_ALTERNATE, /* -128, 127, -128, ... */
	FILL_EXTREMES,  /* random among -128, -127, 0, 126, 127 */
	FILL_PATTERNS   /* number of patterns */
};

/* Fills @n int8 values with @pattern. */
void fill_i8(struct rng *r, int8_t *p, size_t n, enum fill_pattern pattern);

/* Allocates @n bytes or aborts the test process with a message. */
void *xmalloc(size_t n);

#endif /* SAMPAN_TEST_UTIL_H */
