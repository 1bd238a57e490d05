/*
 * ops.c - the quantized operators of the runtime: the int8 products on the
 * device and QuantizeLinear / DequantizeLinear (see runtime.h for the
 * numerics); the weights they keep on the device.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static int no_mem(struct rt_ctx *ctx)
{
	return rt_fail(ctx, SAMPAN_ERROR_NO_MEM, "out of memory");
}

/* ------------------------------------------------------------ parameters */

/* Range of a quantized type. */
static void qrange(enum onnx_dtype dtype, int32_t *lo, int32_t *hi)
{
	*lo = dtype == ONNX_DT_UINT8 ? 0 : dtype == ONNX_DT_INT8 ? -128 : INT32_MIN;
	*hi = dtype == ONNX_DT_UINT8 ? 255 : dtype == ONNX_DT_INT8 ? 127 : INT32_MAX;
}

/* Checks that the parameter @t (scale or zero point; NULL: omitted) has
 * one element, or @n elements along one dimension when @n > 1. */
static int check_param(struct rt_ctx *ctx, const struct onnx_tensor *t, const char *what, int64_t n)
{
	if (!t || t->count == 1)
		return SAMPAN_OK;
	if (n > 1 && t->ndim == 1 && t->dims[0] == n)
		return SAMPAN_OK;
	if (n > 1)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "%s has %zu elements, expected 1 or a vector of %lld", what,
		               t->count, (long long)n);
	return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED, "%s has %zu elements, expected one", what,
	               t->count);
}

/* Parameter @i of a per-tensor or per-channel tensor checked above. */
static int32_t zp_at(const struct onnx_tensor *t, int64_t i)
{
	return !t ? 0 : (int32_t)onnx_tensor_i64(t, t->count == 1 ? 0 : (size_t)i);
}

static float scale_at(const struct onnx_tensor *t, int64_t i)
{
	return ((const float *)t->data)[t->count == 1 ? 0 : (size_t)i];
}

/* Checks that every scale of @t is positive and finite. */
static int check_scales(struct rt_ctx *ctx, const struct onnx_tensor *t, const char *what)
{
	for (size_t i = 0; i < t->count; i++) {
		float s = ((const float *)t->data)[i];

		if (!(s > 0.0f) || !isfinite(s))
			return rt_fail(ctx, SAMPAN_ERROR_INVALID,
			               "%s[%zu] = %g, scales must be positive and finite", what, i,
			               (double)s);
	}
	return SAMPAN_OK;
}

/* An int8 copy of a uint8 or int8 tensor: uint8 data minus 128; writes
 * that offset (128 or 0) to @offset. NULL when out of memory. */
static int8_t *to_s8(const struct onnx_tensor *t, int32_t *offset)
{
	int8_t *p = malloc(t->count ? t->count : 1);

	if (!p)
		return NULL;
	*offset = t->dtype == ONNX_DT_UINT8 ? 128 : 0;
	for (size_t i = 0; i < t->count; i++)
		p[i] = (int8_t)((int32_t)onnx_tensor_i64(t, i) - *offset);
	return p;
}

/* ONNX's requantization: saturate(rint(acc * mult) + zp), in double with
 * rounding half to even (the default rounding mode). */
static int32_t requant(int32_t acc, float mult, int32_t zp, int32_t lo, int32_t hi)
{
	double r = rint((double)acc * (double)mult);

	if (isnan(r))
		r = 0;
	r += zp;
	return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

/* ----------------------------------------------------------- device GEMM */

/* out[m][n] = bias[n] + sum_k (a[m][k] - za) * (w[n][k] + wofs[n]) in
 * wrapping int32: the device computes the product with za and bias, the
 * host adds wofs[n] * sum_k (a[m][k] - za). a: (M, K), w: (N, K), wofs and
 * bias: (N) or NULL, out: (M, N); za in -128..127. With @wi >= 0 the
 * weights and bias are the node's resident weights ctx->wts[wi] (w and
 * bias then unused): only A and the result move. */
static int int_matmul(struct rt_ctx *ctx, int64_t M, int64_t K, int64_t N, const int8_t *a,
                      int32_t za, const int8_t *w, const int32_t *wofs, const int32_t *bias, int wi,
                      int32_t *out)
{
	struct sampan_gemm g = {.m = M,
	                        .k = K,
	                        .n = N,
	                        .a = a,
	                        .w = w,
	                        .bias = bias,
	                        .za = za,
	                        .lo = -128,
	                        .hi = 127,
	                        .raw = 1,
	                        .out = out};
	struct sampan_matmul x = {
	    .m = M, .a = a, .za = za, .lo = -128, .hi = 127, .raw = 1, .out = out};
	struct sampan_stats s;
	int ret;

	if (wi >= 0 && wi < ctx->n_wts)
		ret = sampan_matmul(ctx->dev, ctx->wts[wi], &x);
	else
		ret = sampan_gemm(ctx->dev, &g);
	if (ret)
		return rt_fail(ctx, ret, "device GEMM %lldx%lldx%lld failed: %s", (long long)M,
		               (long long)K, (long long)N, sampan_last_error());
	if (sampan_get_stats(ctx->dev, &s) == SAMPAN_OK) {
		ctx->stats.cycles += s.cycles;
		ctx->stats.macs += s.macs;
		ctx->stats.host_bytes_in += s.host_bytes_in;
		ctx->stats.host_bytes_out += s.host_bytes_out;
		ctx->stats.device_seconds += s.wall_seconds;
	}
	ctx->stats.gemms++;
	if (!wofs)
		return SAMPAN_OK;
	for (int64_t m = 0; m < M; m++) {
		int64_t rs = 0;

		for (int64_t k = 0; k < K; k++)
			rs += a[m * K + k] - za;
		for (int64_t n = 0; n < N; n++) {
			uint32_t v = (uint32_t)out[m * N + n] + (uint32_t)wofs[n] * (uint32_t)rs;

			out[m * N + n] = (int32_t)v;
		}
	}
	return SAMPAN_OK;
}

/* The device's (N, K) int8 matrices of @nb batches of weights @b, each
 * (K, N), or (N, K) with @trans_b; uint8 data minus 128. NULL when out of
 * memory. */
static int8_t *device_weights(const struct onnx_tensor *b, bool trans_b, int64_t nb, int64_t K,
                              int64_t N)
{
	int32_t offb = b->dtype == ONNX_DT_UINT8 ? 128 : 0;
	int8_t *wt = malloc(b->count ? b->count : 1);

	if (!wt)
		return NULL;
	for (int64_t bb = 0; bb < nb; bb++)
		for (int64_t k = 0; k < K; k++)
			for (int64_t n = 0; n < N; n++)
				wt[(bb * N + n) * K + k] =
				    (int8_t)((int32_t)onnx_tensor_i64(
				                 b, (size_t)(trans_b ? (bb * N + n) * K + k
				                                     : (bb * K + k) * N + n)) -
				             offb);
	return wt;
}

/* Weight offsets for the device's symmetric W: wofs[n] = offset - zw[n]
 * (offset 128 for uint8 weights). NULL (and *ret OK) when all are zero. */
static int32_t *weight_offsets(const struct onnx_tensor *zw, int32_t offset, int64_t n, int *ret)
{
	int32_t *wofs;
	bool any = false;

	*ret = SAMPAN_OK;
	for (int64_t i = 0; i < n; i++)
		any |= offset - zp_at(zw, i) != 0;
	if (!any)
		return NULL;
	wofs = malloc((size_t)n * sizeof(*wofs));
	if (!wofs) {
		*ret = SAMPAN_ERROR_NO_MEM;
		return NULL;
	}
	for (int64_t i = 0; i < n; i++)
		wofs[i] = offset - zp_at(zw, i);
	return wofs;
}

/* ---------------------------------------------------------------- MatMul */

/* acc = (a - za) x (b - zb) + bias as int32, numpy matmul semantics for
 * 2-D and batched operands (batch dimensions broadcast); zb per tensor or
 * per column; b's matrices (K, N), or (N, K) with @trans_b; @bias (N) or
 * NULL. */
static int matmul_acc(struct rt_ctx *ctx, const struct onnx_tensor *a, const struct onnx_tensor *za,
                      const struct onnx_tensor *b, const struct onnx_tensor *zb, bool trans_b,
                      const int32_t *bias, struct onnx_tensor **acc)
{
	int64_t dims[ONNX_MAX_DIMS], M, K, N, nb_out = 1, nb_b = 1;
	int ra = a->ndim - 2, rb = b->ndim - 2, ro, ret;
	int8_t *a8 = NULL, *wt = NULL;
	int32_t *wofs = NULL, offa, offb, za_dev;
	struct onnx_tensor *y = NULL;
	bool resident;

	if (a->ndim < 2 || b->ndim < 2)
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED,
		               "operands of rank below 2 are not supported (a %d-D, b %d-D)",
		               a->ndim, b->ndim);
	M = a->dims[a->ndim - 2];
	K = a->dims[a->ndim - 1];
	N = b->dims[b->ndim - (trans_b ? 2 : 1)];
	if (b->dims[b->ndim - (trans_b ? 1 : 2)] != K)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "inner dimensions differ (%lld and %lld)",
		               (long long)K, (long long)b->dims[b->ndim - (trans_b ? 1 : 2)]);
	ro = ra > rb ? ra : rb;
	for (int i = 0; i < ro; i++) {
		int64_t da = i - (ro - ra) >= 0 ? a->dims[i - (ro - ra)] : 1;
		int64_t db = i - (ro - rb) >= 0 ? b->dims[i - (ro - rb)] : 1;

		if (da != db && da != 1 && db != 1)
			return rt_fail(ctx, SAMPAN_ERROR_INVALID,
			               "batch dimensions %lld and %lld do not broadcast",
			               (long long)da, (long long)db);
		dims[i] = da > db ? da : db;
		nb_out *= dims[i];
	}
	for (int i = 0; i < rb; i++)
		nb_b *= b->dims[i];
	dims[ro] = M;
	dims[ro + 1] = N;
	if (za && za->count != 1)
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED,
		               "a per-row zero point of the first operand is not supported");
	ret = check_param(ctx, zb, "the second operand's zero point", N);
	if (ret)
		return ret;
	ret = onnx_tensor_create(&y, ONNX_DT_INT32, ro + 2, dims);
	if (ret)
		return rt_fail(ctx, ret, "output of %lld batches of %lldx%lld is too large",
		               (long long)nb_out, (long long)M, (long long)N);
	a8 = to_s8(a, &offa);
	/* Each batch of b, (K, N), transposed to the device's (N, K), unless
	 * the weights are resident. */
	resident = ctx->n_wts == nb_b;
	wt = resident ? NULL : device_weights(b, trans_b, nb_b, K, N);
	if (!a8 || (!resident && !wt))
		goto err_no_mem;
	offb = b->dtype == ONNX_DT_UINT8 ? 128 : 0;
	wofs = weight_offsets(zb, offb, N, &ret);
	if (ret)
		goto err_no_mem;
	za_dev = zp_at(za, 0) - offa;
	/* b one matrix: a's batches are rows of one product, M = nb_out * M. */
	if (rb == 0) {
		ret = int_matmul(ctx, nb_out * M, K, N, a8, za_dev, wt, wofs, bias,
		                 resident ? 0 : -1, (int32_t *)y->data);
		if (ret)
			goto err;
		nb_out = 0;
	}
	for (int64_t ob = 0; ob < nb_out; ob++) {
		int64_t ia = 0, ib = 0, rest = ob;

		/* Batch index of each operand, broadcasting size-1 dimensions. */
		for (int64_t i = ro - 1, sa = 1, sb = 1; i >= 0; i--) {
			int64_t idx = rest % dims[i];
			int64_t ja = i - (ro - ra), jb = i - (ro - rb);

			rest /= dims[i];
			if (ja >= 0) {
				ia += (a->dims[ja] == 1 ? 0 : idx) * sa;
				sa *= a->dims[ja];
			}
			if (jb >= 0) {
				ib += (b->dims[jb] == 1 ? 0 : idx) * sb;
				sb *= b->dims[jb];
			}
		}
		ret = int_matmul(ctx, M, K, N, a8 + ia * M * K, za_dev, wt ? wt + ib * N * K : NULL,
		                 wofs, bias, resident ? (int)ib : -1,
		                 (int32_t *)y->data + ob * M * N);
		if (ret)
			goto err;
	}
	free(wofs);
	free(wt);
	free(a8);
	*acc = y;
	return SAMPAN_OK;

err_no_mem:
	ret = no_mem(ctx);
err:
	free(wofs);
	free(wt);
	free(a8);
	onnx_tensor_destroy(y);
	return ret;
}

static int run_matmulinteger(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                             struct onnx_tensor **out)
{
	return matmul_acc(ctx, in[0], in[2], in[1], in[3], false, NULL, out);
}

/* Requantizes an int32 accumulator tensor in place of a new output of the
 * type of @zy: y = saturate(rint(acc * (sx * sw[c] / sy)) + zy), channel c
 * = (i / inner) % channels; clamped below at zy if the node has a fused
 * Relu. */
static int requant_tensor(struct rt_ctx *ctx, const struct onnx_tensor *acc, float sx,
                          const struct onnx_tensor *sw, float sy, const struct onnx_tensor *zy,
                          int64_t channels, int64_t inner, struct onnx_tensor **out)
{
	struct onnx_tensor *y;
	int32_t lo, hi, z = zp_at(zy, 0);
	float *mult;
	int ret;

	ret = onnx_tensor_create(&y, zy->dtype, acc->ndim, acc->dims);
	if (ret)
		return rt_fail(ctx, ret, "cannot allocate the output");
	mult = malloc((size_t)channels * sizeof(*mult));
	if (!mult) {
		onnx_tensor_destroy(y);
		return no_mem(ctx);
	}
	for (int64_t c = 0; c < channels; c++)
		mult[c] = sx * scale_at(sw, c) / sy;
	qrange(zy->dtype, &lo, &hi);
	if (ctx->node->fused_relu)
		lo = z;
	for (size_t i = 0; i < acc->count; i++) {
		int32_t v = requant(((const int32_t *)acc->data)[i],
		                    mult[(int64_t)i / inner % channels], z, lo, hi);

		if (zy->dtype == ONNX_DT_UINT8)
			((uint8_t *)y->data)[i] = (uint8_t)v;
		else
			((int8_t *)y->data)[i] = (int8_t)v;
	}
	free(mult);
	*out = y;
	return SAMPAN_OK;
}

/* Checks the scales and output zero point shared by QLinearMatMul and
 * QLinearConv: x_scale, y_scale, y_zero_point per tensor, w_scale per
 * tensor or per @channels. */
static int check_qlinear(struct rt_ctx *ctx, struct onnx_tensor *const *in, int64_t channels)
{
	int ret = 0;

	ret = ret ? ret : check_param(ctx, in[1], "the input scale", 1);
	ret = ret ? ret : check_param(ctx, in[4], "the weight scale", channels);
	ret = ret ? ret : check_param(ctx, in[5], "the weight zero point", channels);
	ret = ret ? ret : check_param(ctx, in[6], "the output scale", 1);
	ret = ret ? ret : check_param(ctx, in[7], "the output zero point", 1);
	ret = ret ? ret : check_scales(ctx, in[1], "the input scale");
	ret = ret ? ret : check_scales(ctx, in[4], "the weight scale");
	ret = ret ? ret : check_scales(ctx, in[6], "the output scale");
	return ret;
}

static int run_qlinearmatmul(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                             struct onnx_tensor **out)
{
	const struct onnx_node *node = ctx->node;
	const struct onnx_tensor *bias = node->n_inputs > 8 ? in[8] : NULL;
	struct onnx_tensor *acc;
	int64_t N = in[3]->ndim >= 2 ? in[3]->dims[in[3]->ndim - (node->trans_b ? 2 : 1)] : 1;
	int ret;

	ret = check_qlinear(ctx, in, N);
	if (ret)
		return ret;
	if (bias && (bias->ndim != 1 || bias->dims[0] != N))
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "the bias must be a vector of %lld",
		               (long long)N);
	ret = matmul_acc(ctx, in[0], in[2], in[3], in[5], node->trans_b,
	                 bias ? (const int32_t *)bias->data : NULL, &acc);
	if (ret)
		return ret;
	ret = requant_tensor(ctx, acc, scale_at(in[1], 0), in[4], scale_at(in[6], 0), in[7],
	                     in[4]->count == 1 ? 1 : N, 1, out);
	onnx_tensor_destroy(acc);
	return ret;
}

/* ------------------------------------------------------------------ Conv */

/* acc = conv(x - zx, w - zw) + bias as int32 (N, M, OH, OW), by im2col
 * onto the device: per group one product of all the images, A = (N * OH *
 * OW, Cg * KH * KW) with padding at the zero point, W = the group's rows
 * of w (resident, when the node has them). */
static int conv_acc(struct rt_ctx *ctx, const struct onnx_tensor *x, const struct onnx_tensor *zx,
                    const struct onnx_tensor *w, const struct onnx_tensor *zw,
                    const struct onnx_tensor *bias, struct onnx_tensor **acc)
{
	struct rt_conv_geom g;
	struct onnx_tensor *y = NULL;
	int8_t *x8 = NULL, *w8 = NULL, *col = NULL;
	int32_t *wofs = NULL, *tmp = NULL, offx, offw, za;
	int64_t rows, K, dims[4];
	bool resident;
	int ret;

	ret = rt_conv_geometry(ctx, x, w, &g);
	if (ret)
		return ret;
	if (zx && zx->count != 1)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "the input zero point must be a scalar");
	ret = check_param(ctx, zw, "the weight zero point", g.m);
	if (ret)
		return ret;
	if (bias && (bias->ndim != 1 || bias->dims[0] != g.m))
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "the bias must be a vector of %lld",
		               (long long)g.m);
	rows = g.oh * g.ow;
	K = g.cg * g.kh * g.kw;
	if (rows > ONNX_MAX_ELEMENTS / K / g.n)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "the im2col matrix (%lld x %lld) is too large",
		               (long long)(g.n * rows), (long long)K);
	dims[0] = g.n;
	dims[1] = g.m;
	dims[2] = g.oh;
	dims[3] = g.ow;
	ret = onnx_tensor_create(&y, ONNX_DT_INT32, 4, dims);
	if (ret)
		return rt_fail(ctx, ret, "the output is too large");
	resident = ctx->n_wts == g.group;
	x8 = to_s8(x, &offx);
	w8 = resident ? NULL : to_s8(w, &offw);
	offw = w->dtype == ONNX_DT_UINT8 ? 128 : 0;
	col = malloc((size_t)(g.n * rows * K));
	tmp = malloc((size_t)(g.n * rows * g.mg) * sizeof(*tmp));
	if (!x8 || (!resident && !w8) || !col || !tmp)
		goto err_no_mem;
	wofs = weight_offsets(zw, offw, g.m, &ret);
	if (ret)
		goto err_no_mem;
	za = zp_at(zx, 0) - offx;
	for (int64_t gr = 0; gr < g.group; gr++) {
		int8_t *r = col;

		for (int64_t b = 0; b < g.n; b++) {
			const int8_t *xg = x8 + (b * g.c + gr * g.cg) * g.h * g.w;

			for (int64_t oy = 0; oy < g.oh; oy++) {
				for (int64_t ox = 0; ox < g.ow; ox++) {
					for (int64_t c = 0; c < g.cg; c++) {
						for (int64_t ky = 0; ky < g.kh; ky++) {
							int64_t iy = oy * g.sh - g.ph + ky * g.dh;

							for (int64_t kx = 0; kx < g.kw; kx++) {
								int64_t ix =
								    ox * g.sw - g.pw + kx * g.dw;
								bool in = iy >= 0 && iy < g.h &&
								          ix >= 0 && ix < g.w;

								*r++ =
								    in ? xg[(c * g.h + iy) * g.w +
								            ix]
								       : (int8_t)za;
							}
						}
					}
				}
			}
		}
		ret = int_matmul(ctx, g.n * rows, K, g.mg, col, za, w8 ? w8 + gr * g.mg * K : NULL,
		                 wofs ? wofs + gr * g.mg : NULL,
		                 bias ? (const int32_t *)bias->data + gr * g.mg : NULL,
		                 resident ? (int)gr : -1, tmp);
		if (ret)
			goto err;
		for (int64_t b = 0; b < g.n; b++)
			for (int64_t n = 0; n < g.mg; n++)
				for (int64_t p = 0; p < rows; p++)
					((int32_t *)y->data)[(b * g.m + gr * g.mg + n) * rows + p] =
					    tmp[(b * rows + p) * g.mg + n];
	}
	free(tmp);
	free(col);
	free(wofs);
	free(w8);
	free(x8);
	*acc = y;
	return SAMPAN_OK;

err_no_mem:
	ret = no_mem(ctx);
err:
	free(tmp);
	free(col);
	free(wofs);
	free(w8);
	free(x8);
	onnx_tensor_destroy(y);
	return ret;
}

static int run_convinteger(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                           struct onnx_tensor **out)
{
	return conv_acc(ctx, in[0], in[2], in[1], in[3], NULL, out);
}

static int run_qlinearconv(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                           struct onnx_tensor **out)
{
	struct onnx_tensor *acc;
	int64_t M = in[3]->ndim >= 1 ? in[3]->dims[0] : 1;
	int ret;

	ret = check_qlinear(ctx, in, M);
	if (ret)
		return ret;
	ret = conv_acc(ctx, in[0], in[2], in[3], in[5], in[8], &acc);
	if (ret)
		return ret;
	ret = requant_tensor(ctx, acc, scale_at(in[1], 0), in[4], scale_at(in[6], 0), in[7],
	                     in[4]->count == 1 ? 1 : M, acc->dims[2] * acc->dims[3], out);
	onnx_tensor_destroy(acc);
	return ret;
}

/* ------------------------------------------------ QuantizeLinear and back */

/* Per-tensor or per-axis parameters of x: element i uses parameter
 * (i / *inner) % *channels. */
static int axis_params(struct rt_ctx *ctx, const struct onnx_tensor *x,
                       const struct onnx_tensor *scale, const struct onnx_tensor *zp,
                       int64_t *channels, int64_t *inner)
{
	int64_t axis = ctx->node->axis;
	int ret;

	*channels = 1;
	*inner = 1;
	if (scale->count == 1 && (!zp || zp->count == 1))
		return check_scales(ctx, scale, "the scale");
	/* Per-axis parameters exist from opset 13. */
	if (ctx->node->version < 13)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "the scale and zero point of version %d of the op must be scalars "
		               "(per-axis parameters exist from opset 13)",
		               ctx->node->version);
	if (axis < 0)
		axis += x->ndim;
	if (axis < 0 || axis >= x->ndim)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "axis %lld is out of range for a %d-D input",
		               (long long)ctx->node->axis, x->ndim);
	*channels = x->dims[axis];
	for (int i = (int)axis + 1; i < x->ndim; i++)
		*inner *= x->dims[i];
	ret = check_param(ctx, scale, "the scale", *channels);
	ret = ret ? ret : check_param(ctx, zp, "the zero point", *channels);
	return ret ? ret : check_scales(ctx, scale, "the scale");
}

static int run_quantizelinear(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                              struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0], *scale = in[1], *zp = in[2];
	enum onnx_dtype dtype = zp                                      ? zp->dtype
	                        : ctx->node->q_dtype != ONNX_DT_UNKNOWN ? ctx->node->q_dtype
	                                                                : ONNX_DT_UINT8;
	struct onnx_tensor *y;
	int64_t channels, inner;
	int32_t lo, hi;
	int ret;

	ret = axis_params(ctx, x, scale, zp, &channels, &inner);
	if (ret)
		return ret;
	ret = onnx_tensor_create(&y, dtype, x->ndim, x->dims);
	if (ret)
		return rt_fail(ctx, ret, "cannot allocate the output");
	qrange(dtype, &lo, &hi);
	for (size_t i = 0; i < x->count; i++) {
		int64_t c = (int64_t)i / inner % channels;
		float q = rintf(((const float *)x->data)[i] / scale_at(scale, c));
		double v = (isnan(q) ? 0.0 : (double)q) + zp_at(zp, c);
		int32_t r = v < lo ? lo : v > hi ? hi : (int32_t)v;

		if (dtype == ONNX_DT_UINT8)
			((uint8_t *)y->data)[i] = (uint8_t)r;
		else
			((int8_t *)y->data)[i] = (int8_t)r;
	}
	*out = y;
	return SAMPAN_OK;
}

static int run_dequantizelinear(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                                struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0], *scale = in[1], *zp = in[2];
	struct onnx_tensor *y;
	int64_t channels, inner;
	int ret;

	ret = axis_params(ctx, x, scale, zp, &channels, &inner);
	if (ret)
		return ret;
	ret = onnx_tensor_create(&y, ONNX_DT_FLOAT, x->ndim, x->dims);
	if (ret)
		return rt_fail(ctx, ret, "cannot allocate the output");
	for (size_t i = 0; i < x->count; i++) {
		int64_t c = (int64_t)i / inner % channels;

		((float *)y->data)[i] =
		    (float)(onnx_tensor_i64(x, i) - zp_at(zp, c)) * scale_at(scale, c);
	}
	*out = y;
	return SAMPAN_OK;
}

/* ------------------------------------------------------ resident weights */

int rt_node_weights(struct rt_ctx *ctx, const struct onnx_model *m, const struct onnx_node *node,
                    struct sampan_weights ***wts, int *n)
{
	const struct onnx_tensor *w = NULL, *bias = NULL;
	struct sampan_weights **h = NULL;
	int64_t count = 1, rows, K;
	int bias_v = -1, ret = SAMPAN_OK;
	int8_t *w8 = NULL;
	int32_t off;

	*wts = NULL;
	*n = 0;
	switch (node->op) {
	case ONNX_OP_QLINEARCONV:
	case ONNX_OP_QLINEARMATMUL:
		w = m->values[node->inputs[3]].init;
		bias_v = node->n_inputs > 8 ? node->inputs[8] : -1;
		break;
	case ONNX_OP_CONVINTEGER:
	case ONNX_OP_MATMULINTEGER:
		w = m->values[node->inputs[1]].init;
		break;
	default:
		return SAMPAN_OK;
	}
	/* Weights or bias computed by the graph go with each product; shapes
	 * the op refuses are reported when it runs. */
	if (!w || (bias_v >= 0 && !m->values[bias_v].init))
		return SAMPAN_OK;
	bias = bias_v >= 0 ? m->values[bias_v].init : NULL;
	if (node->op == ONNX_OP_QLINEARCONV || node->op == ONNX_OP_CONVINTEGER) {
		if (w->ndim != 4 || w->dims[0] % node->conv.group)
			return SAMPAN_OK;
		count = node->conv.group;
		rows = w->dims[0] / count;
		K = w->dims[1] * w->dims[2] * w->dims[3];
		w8 = to_s8(w, &off);
	} else {
		if (w->ndim < 2)
			return SAMPAN_OK;
		rows = w->dims[w->ndim - (node->trans_b ? 2 : 1)];
		K = w->dims[w->ndim - (node->trans_b ? 1 : 2)];
		for (int i = 0; i < w->ndim - 2; i++)
			count *= w->dims[i];
		w8 = device_weights(w, node->trans_b, count, K, rows);
	}
	if (bias && (bias->dtype != ONNX_DT_INT32 || bias->ndim != 1 ||
	             bias->dims[0] != rows * (count > 1 && w->ndim == 4 ? count : 1)))
		goto out;
	if (count > INT32_MAX / 2)
		goto out;
	h = calloc((size_t)count, sizeof(*h));
	if (!w8 || !h) {
		ret = no_mem(ctx);
		goto out;
	}
	for (int64_t i = 0; i < count; i++) {
		struct sampan_weights_desc d = {
		    .format = SAMPAN_FORMAT_INT8,
		    .n = rows,
		    .k = K,
		    .w = w8 + i * rows * K,
		    .bias = bias && w->ndim == 4 ? (const int32_t *)bias->data + i * rows
		            : bias               ? (const int32_t *)bias->data
		                                 : NULL,
		    .name = node->name,
		};

		ret = sampan_weights_create(ctx->dev, &d, &h[i]);
		if (ret) {
			rt_fail(ctx, ret, "cannot keep its weights on the device: %s",
			        sampan_last_error());
			while (i-- > 0)
				sampan_weights_destroy(h[i]);
			free(h);
			h = NULL;
			goto out;
		}
	}
	*wts = h;
	*n = (int)count;
out:
	free(w8);
	return ret;
}

/* ------------------------------------------------------------- dispatch */

int rt_device_op_run(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	switch (ctx->node->op) {
	case ONNX_OP_QLINEARMATMUL:
		return run_qlinearmatmul(ctx, in, out);
	case ONNX_OP_MATMULINTEGER:
		return run_matmulinteger(ctx, in, out);
	case ONNX_OP_QLINEARCONV:
		return run_qlinearconv(ctx, in, out);
	case ONNX_OP_CONVINTEGER:
		return run_convinteger(ctx, in, out);
	case ONNX_OP_QUANTIZELINEAR:
		return run_quantizelinear(ctx, in, out);
	case ONNX_OP_DEQUANTIZELINEAR:
		return run_dequantizelinear(ctx, in, out);
	default:
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED, "no implementation");
	}
}
