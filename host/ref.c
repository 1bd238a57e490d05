/*
 * ref.c - naive reference GEMM (see ref.h).
 */
#include "ref.h"

void ref_gemm(const struct sampan_gemm *g, void *out)
{
	for (int64_t m = 0; m < g->m; m++) {
		for (int64_t n = 0; n < g->n; n++) {
			const int8_t *a = g->a + m * g->k; /* row m of (M, K) */
			const int8_t *w = g->w + n * g->k; /* row n of (N, K) */
			/* int32 wraparound, computed in uint32_t to stay defined. */
			uint32_t acc = g->bias ? (uint32_t)g->bias[n] : 0;
			int32_t value;

			for (int64_t k = 0; k < g->k; k++)
				acc += (uint32_t)(((int32_t)a[k] - g->za) * (int32_t)w[k]);
			value = (int32_t)acc;
			if (g->raw)
				((int32_t *)out)[m * g->n + n] = value;
			else
				((int8_t *)out)[m * g->n + n] = sampan_requantize(
					value, g->mult[n], g->shift[n], g->zo, g->lo, g->hi);
		}
	}
}
