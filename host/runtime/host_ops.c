/*
 * host_ops.c - the ops that run on the host only: pools, elementwise and
 * shape ops, Softmax, and straightforward float reference versions of
 * Conv, Gemm, MatMul and BatchNormalization for float models.
 *
 * Integer ops (MaxPool on uint8/int8, Add, Concat, Flatten, Reshape, Relu,
 * Clip on integers) are exact; Add wraps around like numpy. Float ops
 * accumulate in double and round once to float, so they agree with the
 * ONNX reference to about 1e-6 relative (the tests allow 1e-5).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* ---------------------------------------------------------------- helpers */

/* Stores @v into integer element @i, wrapping to the type's width. */
static void i64_put(struct onnx_tensor *t, size_t i, int64_t v)
{
	switch (t->dtype) {
	case ONNX_DT_UINT8:
		((uint8_t *)t->data)[i] = (uint8_t)v;
		break;
	case ONNX_DT_INT8:
		((int8_t *)t->data)[i] = (int8_t)(uint8_t)v;
		break;
	case ONNX_DT_INT32:
		((int32_t *)t->data)[i] = (int32_t)(uint32_t)v;
		break;
	default:
		((int64_t *)t->data)[i] = v;
		break;
	}
}

static const float *fdata(const struct onnx_tensor *t)
{
	return (const float *)t->data;
}

static int new_tensor(struct rt_ctx *ctx, struct onnx_tensor **t, enum onnx_dtype dtype, int ndim,
                      const int64_t *dims)
{
	int ret = onnx_tensor_create(t, dtype, ndim, dims);

	if (ret)
		return rt_fail(ctx, ret, "cannot allocate the output");
	return SAMPAN_OK;
}

/* A new tensor with @x's data and type, shaped @dims. */
static int reshaped_copy(struct rt_ctx *ctx, const struct onnx_tensor *x, int ndim,
                         const int64_t *dims, struct onnx_tensor **out)
{
	int ret = new_tensor(ctx, out, x->dtype, ndim, dims);

	if (ret)
		return ret;
	memcpy((*out)->data, x->data, x->count * onnx_dtype_size(x->dtype));
	return SAMPAN_OK;
}

/* Normalizes @axis of a rank-@rank tensor, from [-rank, rank + extra), to
 * [0, rank + extra). */
static int norm_axis(struct rt_ctx *ctx, int64_t axis, int rank, int extra, int64_t *out)
{
	int64_t a = axis < 0 ? axis + rank : axis;

	if (a < 0 || a >= rank + extra)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "axis %lld is out of range for a %d-D input", (long long)axis, rank);
	*out = a;
	return SAMPAN_OK;
}

/* Numpy broadcasting of @n tensors: output rank and dims, and for each
 * tensor the stride (0 where broadcast) along each output dimension. */
static int broadcast(struct rt_ctx *ctx, int n, const struct onnx_tensor *const *t, int *ndim,
                     int64_t *dims, int64_t (*strides)[ONNX_MAX_DIMS])
{
	int r = 0;

	for (int i = 0; i < n; i++)
		r = t[i]->ndim > r ? t[i]->ndim : r;
	for (int d = 0; d < r; d++)
		dims[d] = 1;
	for (int i = 0; i < n; i++) {
		for (int d = 0; d < t[i]->ndim; d++) {
			int64_t v = t[i]->dims[d], *o = &dims[r - t[i]->ndim + d];

			if (v != *o && v != 1 && *o != 1)
				return rt_fail(ctx, SAMPAN_ERROR_INVALID,
				               "input shapes do not broadcast (dimension %d: %lld "
				               "and %lld)",
				               r - t[i]->ndim + d, (long long)*o, (long long)v);
			*o = v > *o ? v : *o;
		}
	}
	for (int i = 0; i < n; i++) {
		int64_t s = 1;

		for (int d = r - 1; d >= 0; d--) {
			int j = d - (r - t[i]->ndim);
			int64_t v = j >= 0 ? t[i]->dims[j] : 1;

			strides[i][d] = v == 1 ? 0 : s;
			s *= v;
		}
	}
	*ndim = r;
	return SAMPAN_OK;
}

/* Offset in a broadcast operand of output element @i. */
static size_t bcast_offset(size_t i, int ndim, const int64_t *dims, const int64_t *strides)
{
	size_t off = 0;

	for (int d = ndim - 1; d >= 0; d--) {
		off += (i % (size_t)dims[d]) * (size_t)strides[d];
		i /= (size_t)dims[d];
	}
	return off;
}

/* Most multiply-adds (or window taps) of one host op: hostile shapes get
 * an error instead of hours of work. The fuzz build lowers it. */
#ifndef HOST_MAX_WORK
#define HOST_MAX_WORK ((int64_t)1 << 32)
#endif

/* Checks that @outputs elements of @per_output steps each stay within
 * HOST_MAX_WORK. */
static int check_work(struct rt_ctx *ctx, int64_t outputs, int64_t per_output)
{
	if (outputs > 0 && per_output > HOST_MAX_WORK / outputs)
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED,
		               "%lld outputs of %lld steps each is more than the host's limit "
		               "of %lld",
		               (long long)outputs, (long long)per_output, (long long)HOST_MAX_WORK);
	return SAMPAN_OK;
}

/* ------------------------------------------------------------ elementwise */

static int run_add(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	int64_t dims[ONNX_MAX_DIMS], st[2][ONNX_MAX_DIMS];
	struct onnx_tensor *y;
	int ndim, ret;

	ret = broadcast(ctx, 2, (const struct onnx_tensor *const *)in, &ndim, dims, st);
	if (ret)
		return ret;
	ret = new_tensor(ctx, &y, in[0]->dtype, ndim, dims);
	if (ret)
		return ret;
	for (size_t i = 0; i < y->count; i++) {
		size_t a = bcast_offset(i, ndim, dims, st[0]),
		       b = bcast_offset(i, ndim, dims, st[1]);

		if (y->dtype == ONNX_DT_FLOAT)
			((float *)y->data)[i] = fdata(in[0])[a] + fdata(in[1])[b];
		else /* wraps around, as numpy does */
			i64_put(y, i,
			        (int64_t)((uint64_t)onnx_tensor_i64(in[0], a) +
			                  (uint64_t)onnx_tensor_i64(in[1], b)));
	}
	*out = y;
	return SAMPAN_OK;
}

/* Relu and Clip: clamps to [lo, hi], the bounds taken from the optional
 * min and max inputs (Clip from opset 11), the min and max attributes
 * (Clip before 11), or 0 and no upper bound (Relu). */
static int run_clamp(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0];
	const struct onnx_node *node = ctx->node;
	const struct onnx_tensor *mn =
	    node->op == ONNX_OP_CLIP && node->n_inputs > 1 ? in[1] : NULL;
	const struct onnx_tensor *mx =
	    node->op == ONNX_OP_CLIP && node->n_inputs > 2 ? in[2] : NULL;
	struct onnx_tensor *y;
	int ret;

	if ((mn && mn->count != 1) || (mx && mx->count != 1))
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "min and max must be scalars");
	ret = new_tensor(ctx, &y, x->dtype, x->ndim, x->dims);
	if (ret)
		return ret;
	if (x->dtype == ONNX_DT_FLOAT) {
		float lo = ctx->node->op == ONNX_OP_RELU ? 0.0f : mn ? fdata(mn)[0] : -INFINITY;
		float hi = mx ? fdata(mx)[0] : INFINITY;

		/* Clip before opset 11: attributes, default the float range. */
		if (ctx->node->clip_attrs) {
			lo = ctx->node->clip_min;
			hi = ctx->node->clip_max;
		}

		for (size_t i = 0; i < x->count; i++) {
			float v = fdata(x)[i];

			/* NaN passes through; min wins over max as in numpy.clip. */
			v = v > hi ? hi : v;
			((float *)y->data)[i] = v < lo ? lo : v;
		}
	} else {
		int64_t lo = ctx->node->op == ONNX_OP_RELU ? 0
		             : mn                          ? onnx_tensor_i64(mn, 0)
		                                           : INT64_MIN;
		int64_t hi = mx ? onnx_tensor_i64(mx, 0) : INT64_MAX;

		for (size_t i = 0; i < x->count; i++) {
			int64_t v = onnx_tensor_i64(x, i);

			v = v > hi ? hi : v;
			i64_put(y, i, v < lo ? lo : v);
		}
	}
	*out = y;
	return SAMPAN_OK;
}

/* Softmax along one axis (opset 13), or over the rows of the 2-D view
 * of the input at the axis (before 13). */
static int run_softmax(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0];
	int64_t axis = 0, outer = 1, n = 1, inner = 1;
	struct onnx_tensor *y;
	int ret;

	ret = norm_axis(ctx, ctx->node->axis, x->ndim, 0, &axis);
	if (ret)
		return ret;
	for (int d = 0; d < x->ndim; d++) {
		if (d < axis)
			outer *= x->dims[d];
		else if (d == axis || ctx->node->softmax_2d)
			n *= x->dims[d];
		else
			inner *= x->dims[d];
	}
	ret = new_tensor(ctx, &y, ONNX_DT_FLOAT, x->ndim, x->dims);
	if (ret)
		return ret;
	for (int64_t o = 0; o < outer; o++) {
		for (int64_t j = 0; j < inner; j++) {
			const float *src = fdata(x) + o * n * inner + j;
			float *dst = (float *)y->data + o * n * inner + j;
			float mx = -INFINITY;
			double sum = 0;

			for (int64_t k = 0; k < n; k++)
				mx = src[k * inner] > mx ? src[k * inner] : mx;
			for (int64_t k = 0; k < n; k++) {
				dst[k * inner] = expf(src[k * inner] - mx);
				sum += dst[k * inner];
			}
			for (int64_t k = 0; k < n; k++)
				dst[k * inner] = (float)(dst[k * inner] / sum);
		}
	}
	*out = y;
	return SAMPAN_OK;
}

/* Inference BatchNormalization over channel axis 1:
 * y = (x - mean) / sqrt(var + epsilon) * scale + B. */
static int run_batchnorm(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                         struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0];
	int64_t C = x->ndim >= 2 ? x->dims[1] : 1, inner = 1;
	struct onnx_tensor *y;
	int ret;

	if (x->ndim < 2)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "the input must have at least 2 dimensions");
	for (int i = 1; i < 5; i++)
		if (in[i]->ndim != 1 || in[i]->dims[0] != C)
			return rt_fail(ctx, SAMPAN_ERROR_INVALID,
			               "input %d must be a vector of the %lld channels", i,
			               (long long)C);
	for (int d = 2; d < x->ndim; d++)
		inner *= x->dims[d];
	ret = new_tensor(ctx, &y, ONNX_DT_FLOAT, x->ndim, x->dims);
	if (ret)
		return ret;
	for (size_t i = 0; i < x->count; i++) {
		size_t c = i / (size_t)inner % (size_t)C;
		double v = ((double)fdata(x)[i] - fdata(in[3])[c]) /
		           sqrt((double)fdata(in[4])[c] + (double)ctx->node->epsilon);

		((float *)y->data)[i] = (float)(v * fdata(in[1])[c] + fdata(in[2])[c]);
	}
	*out = y;
	return SAMPAN_OK;
}

/* ReduceMean of a float tensor over the axes of the attribute (before
 * opset 18) or of the optional input (18); no axes: all of them, or with
 * noop_with_empty_axes (18) the input unchanged. Sums in double. */
static int run_reducemean(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                          struct onnx_tensor **out)
{
	const struct onnx_node *node = ctx->node;
	const struct onnx_tensor *x = in[0];
	const struct onnx_tensor *at = node->n_inputs > 1 ? in[1] : NULL;
	int64_t axes[ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS], kdims[ONNX_MAX_DIMS];
	int64_t ostride[ONNX_MAX_DIMS], taken = 1;
	bool red[ONNX_MAX_DIMS] = {false};
	int n_axes = node->n_axes, nd = 0, ret;
	struct onnx_tensor *y;
	double *sum;

	if (at) {
		if (at->ndim != 1 || at->count > ONNX_MAX_DIMS)
			return rt_fail(ctx, SAMPAN_ERROR_INVALID,
			               "axes must be a vector of at most %d values", ONNX_MAX_DIMS);
		n_axes = (int)at->count;
		for (int i = 0; i < n_axes; i++)
			axes[i] = ((const int64_t *)at->data)[i];
	} else if (n_axes > 0) {
		memcpy(axes, node->axes, (size_t)n_axes * sizeof(*axes));
	}
	if (n_axes <= 0 && node->version >= 18 && node->noop_with_empty_axes)
		return reshaped_copy(ctx, x, x->ndim, x->dims, out);
	for (int i = 0; i < n_axes; i++) {
		int64_t a = 0;

		ret = norm_axis(ctx, axes[i], x->ndim, 0, &a);
		if (ret)
			return ret;
		if (red[a])
			return rt_fail(ctx, SAMPAN_ERROR_INVALID, "axis %lld is given twice",
			               (long long)axes[i]);
		red[a] = true;
	}
	for (int d = 0; d < x->ndim; d++) {
		if (n_axes <= 0)
			red[d] = true;
		kdims[d] = red[d] ? 1 : x->dims[d];
		if (red[d])
			taken *= x->dims[d];
		if (!red[d] || node->keepdims)
			dims[nd++] = kdims[d];
	}
	ret = new_tensor(ctx, &y, ONNX_DT_FLOAT, nd, dims);
	if (ret)
		return ret;
	sum = calloc(y->count, sizeof(*sum));
	if (!sum) {
		onnx_tensor_destroy(y);
		return rt_fail(ctx, SAMPAN_ERROR_NO_MEM, "out of memory");
	}
	for (int d = x->ndim - 1, st = 1; d >= 0; d--) {
		ostride[d] = red[d] ? 0 : st;
		st *= (int)kdims[d];
	}
	for (size_t i = 0; i < x->count; i++) {
		size_t rest = i, o = 0;

		for (int d = x->ndim - 1; d >= 0; d--) {
			o += (size_t)((int64_t)(rest % (size_t)x->dims[d]) * ostride[d]);
			rest /= (size_t)x->dims[d];
		}
		sum[o] += fdata(x)[i];
	}
	for (size_t o = 0; o < y->count; o++)
		((float *)y->data)[o] = (float)(sum[o] / (double)taken);
	free(sum);
	*out = y;
	return SAMPAN_OK;
}

/* ------------------------------------------------------------------ shape */

static int run_flatten(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	int64_t axis = 0, dims[2] = {1, 1};
	int ret = norm_axis(ctx, ctx->node->axis, in[0]->ndim, 1, &axis);

	if (ret)
		return ret;
	for (int d = 0; d < in[0]->ndim; d++)
		dims[d >= axis] *= in[0]->dims[d];
	return reshaped_copy(ctx, in[0], 2, dims, out);
}

/* Reshape: 0 copies the input's dimension, one -1 is inferred. */
static int run_reshape(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0], *shape = in[1];
	int64_t dims[ONNX_MAX_DIMS], known = 1;
	int infer = -1;
	char from[96], to[96];

	if (shape->ndim != 1 || shape->count > ONNX_MAX_DIMS)
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED,
		               "the shape must be a vector of at most %d values", ONNX_MAX_DIMS);
	for (int d = 0; d < (int)shape->count; d++) {
		int64_t v = ((const int64_t *)shape->data)[d];

		if (v == 0 && d < x->ndim)
			v = x->dims[d];
		if (v == -1 && infer < 0) {
			infer = d;
			v = 1;
		} else if (v < 1) {
			return rt_fail(ctx, SAMPAN_ERROR_INVALID,
			               "shape value %d (%lld) is invalid", d,
			               (long long)((const int64_t *)shape->data)[d]);
		}
		if (v > ONNX_MAX_ELEMENTS / known)
			return rt_fail(ctx, SAMPAN_ERROR_INVALID, "the shape is too large");
		dims[d] = v;
		known *= v;
	}
	if (infer >= 0 && (int64_t)x->count % known == 0)
		dims[infer] = (int64_t)x->count / known;
	if ((infer >= 0 ? (int64_t)x->count % known : known - (int64_t)x->count) != 0)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "cannot reshape %s (%zu elements) to %s",
		               onnx_shape_str(x->ndim, x->dims, from, sizeof(from)), x->count,
		               onnx_shape_str((int)shape->count, dims, to, sizeof(to)));
	return reshaped_copy(ctx, x, (int)shape->count, dims, out);
}

static int run_concat(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_node *node = ctx->node;
	const struct onnx_tensor *x0 = in[0];
	int64_t axis = 0, dims[ONNX_MAX_DIMS], outer = 1, inner = 1;
	size_t item = onnx_dtype_size(x0->dtype), pos = 0;
	struct onnx_tensor *y;
	int ret;

	ret = norm_axis(ctx, node->axis, x0->ndim, 0, &axis);
	if (ret)
		return ret;
	memcpy(dims, x0->dims, sizeof(dims));
	dims[axis] = 0;
	for (int i = 0; i < node->n_inputs; i++) {
		for (int d = 0; d < x0->ndim; d++)
			if (in[i]->ndim != x0->ndim || (d != axis && in[i]->dims[d] != x0->dims[d]))
				return rt_fail(ctx, SAMPAN_ERROR_INVALID,
				               "input %d's shape does not match input 0's outside "
				               "axis %lld",
				               i, (long long)axis);
		dims[axis] += in[i]->dims[axis];
	}
	for (int d = 0; d < x0->ndim; d++) {
		if (d < axis)
			outer *= dims[d];
		else if (d > axis)
			inner *= dims[d];
	}
	ret = new_tensor(ctx, &y, x0->dtype, x0->ndim, dims);
	if (ret)
		return ret;
	for (int64_t o = 0; o < outer; o++) {
		for (int i = 0; i < node->n_inputs; i++) {
			size_t block = (size_t)(in[i]->dims[axis] * inner) * item;

			memcpy((char *)y->data + pos, (const char *)in[i]->data + (size_t)o * block,
			       block);
			pos += block;
		}
	}
	*out = y;
	return SAMPAN_OK;
}

/* ------------------------------------------------------------------ pools */

/* Geometry of a 2-D pool along one axis. */
struct pool_axis {
	int64_t in, k, s, d; /* input size, kernel, stride, dilation */
	int64_t out;         /* output size */
	int64_t pb, pe;      /* padding before and after */
};

static int pool_axis(struct rt_ctx *ctx, int axis, int64_t in, struct pool_axis *p)
{
	const struct onnx_node *node = ctx->node;
	const struct onnx_conv_attrs *a = &node->conv;
	int64_t span;

	*p = (struct pool_axis){.in = in,
	                        .k = a->kernel[axis],
	                        .s = a->strides[axis],
	                        .d = a->dilations[axis],
	                        .pb = a->pads[axis],
	                        .pe = a->pads[axis + 2]};
	span = (p->k - 1) * p->d + 1;
	if (a->auto_pad == ONNX_PAD_SAME_UPPER || a->auto_pad == ONNX_PAD_SAME_LOWER) {
		int64_t total;

		p->out = (in + p->s - 1) / p->s;
		total = (p->out - 1) * p->s + span - in;
		total = total > 0 ? total : 0;
		p->pb = a->auto_pad == ONNX_PAD_SAME_UPPER ? total / 2 : total - total / 2;
		p->pe = total - p->pb;
		return SAMPAN_OK;
	}
	if (a->auto_pad == ONNX_PAD_VALID)
		p->pb = p->pe = 0;
	if (in + p->pb + p->pe < span)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "the kernel (%lld with dilation) is larger than the padded input "
		               "(%lld)",
		               (long long)span, (long long)(in + p->pb + p->pe));
	span = in + p->pb + p->pe - span;
	p->out = (node->ceil_mode ? span + p->s - 1 : span) / p->s + 1;
	/* With ceil_mode, a last window that starts in the end padding is dropped. */
	if (node->ceil_mode && (p->out - 1) * p->s >= in + p->pb)
		p->out--;
	return SAMPAN_OK;
}

/* MaxPool and AveragePool over (N, C, H, W). The average divides by the
 * taps inside the input, or with count_include_pad by the taps inside
 * the padded input. */
static int run_pool(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0];
	bool is_max = ctx->node->op == ONNX_OP_MAXPOOL;
	struct pool_axis ph, pw;
	struct onnx_tensor *y;
	int64_t dims[4];
	size_t o = 0;
	int ret;

	if (x->ndim != 4)
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED,
		               "only 2-D pools are supported (the input is %d-D, not 4-D)",
		               x->ndim);
	ret = pool_axis(ctx, 0, x->dims[2], &ph);
	ret = ret ? ret : pool_axis(ctx, 1, x->dims[3], &pw);
	if (ret)
		return ret;
	if (ph.out > ONNX_MAX_ELEMENTS / pw.out)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "the output is too large");
	ret = check_work(ctx, (int64_t)x->count / (ph.in * pw.in) * ph.out * pw.out, ph.k * pw.k);
	if (ret)
		return ret;
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	dims[2] = ph.out;
	dims[3] = pw.out;
	ret = new_tensor(ctx, &y, x->dtype, 4, dims);
	if (ret)
		return ret;
	for (int64_t plane = 0; plane < dims[0] * dims[1]; plane++) {
		size_t base = (size_t)(plane * ph.in * pw.in);

		for (int64_t oy = 0; oy < ph.out; oy++) {
			for (int64_t ox = 0; ox < pw.out; ox++, o++) {
				double sum = 0, best = -INFINITY;
				int64_t taps = 0, padded = 0;

				for (int64_t ky = 0; ky < ph.k; ky++) {
					int64_t iy = oy * ph.s - ph.pb + ky * ph.d;

					for (int64_t kx = 0; kx < pw.k; kx++) {
						int64_t ix = ox * pw.s - pw.pb + kx * pw.d;
						double v;

						padded += iy < ph.in + ph.pe && ix < pw.in + pw.pe;
						if (iy < 0 || iy >= ph.in || ix < 0 || ix >= pw.in)
							continue;
						v = x->dtype == ONNX_DT_FLOAT
						        ? fdata(x)[base + (size_t)(iy * pw.in + ix)]
						        : (double)onnx_tensor_i64(
						              x, base + (size_t)(iy * pw.in + ix));
						best = v > best ? v : best;
						sum += v;
						taps++;
					}
				}
				if (!is_max)
					((float *)y->data)[o] =
					    (float)(sum / (double)(ctx->node->count_include_pad
					                               ? padded
					                               : (taps ? taps : 1)));
				else if (x->dtype == ONNX_DT_FLOAT)
					((float *)y->data)[o] = (float)best;
				else if (taps)
					i64_put(y, o, (int64_t)best);
				else /* all padding (-inf): the type's least value */
					i64_put(y, o, x->dtype == ONNX_DT_UINT8 ? 0 : -128);
			}
		}
	}
	*out = y;
	return SAMPAN_OK;
}

/* Mean over the spatial dimensions of (N, C, ...). */
static int run_globalaveragepool(struct rt_ctx *ctx, struct onnx_tensor *const *in,
                                 struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0];
	int64_t dims[ONNX_MAX_DIMS], inner = 1;
	struct onnx_tensor *y;
	int ret;

	if (x->ndim < 3)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "the input must have at least 3 dimensions");
	for (int d = 0; d < x->ndim; d++) {
		dims[d] = d < 2 ? x->dims[d] : 1;
		inner *= d < 2 ? 1 : x->dims[d];
	}
	ret = new_tensor(ctx, &y, ONNX_DT_FLOAT, x->ndim, dims);
	if (ret)
		return ret;
	for (size_t p = 0; p < y->count; p++) {
		double sum = 0;

		for (int64_t i = 0; i < inner; i++)
			sum += fdata(x)[p * (size_t)inner + (size_t)i];
		((float *)y->data)[p] = (float)(sum / (double)inner);
	}
	*out = y;
	return SAMPAN_OK;
}

/* ------------------------------------------------------- float products */

/* Gemm: Y = alpha * A' B' + beta * C, A' (M, K), B' (K, N), C broadcast
 * to (M, N). */
static int run_gemm(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_node *node = ctx->node;
	const struct onnx_tensor *A = in[0], *B = in[1], *C = in[2];
	int64_t M, K, N, dims[2], st[2][ONNX_MAX_DIMS];
	struct onnx_tensor *y;
	int ret;

	if (A->ndim != 2 || B->ndim != 2)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "A and B must be 2-D (they are %d-D, %d-D)", A->ndim, B->ndim);
	M = A->dims[node->trans_a];
	K = A->dims[1 - node->trans_a];
	N = B->dims[1 - node->trans_b];
	if (B->dims[node->trans_b] != K)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "inner dimensions differ (%lld and %lld)",
		               (long long)K, (long long)B->dims[node->trans_b]);
	dims[0] = M;
	dims[1] = N;
	if (C) {
		struct onnx_tensor shape = {.ndim = 2, .dims = {M, N}};
		const struct onnx_tensor *ops[2] = {&shape, C};
		int64_t bd[ONNX_MAX_DIMS];
		int nd;

		ret = broadcast(ctx, 2, ops, &nd, bd, st);
		if (ret || nd != 2 || bd[0] != M || bd[1] != N)
			return rt_fail(ctx, SAMPAN_ERROR_INVALID,
			               "C does not broadcast to the output (%lld, %lld)",
			               (long long)M, (long long)N);
	}
	ret = new_tensor(ctx, &y, ONNX_DT_FLOAT, 2, dims);
	if (ret)
		return ret;
	ret = check_work(ctx, (int64_t)y->count, K);
	if (ret) {
		onnx_tensor_destroy(y);
		return ret;
	}
	for (int64_t m = 0; m < M; m++) {
		for (int64_t n = 0; n < N; n++) {
			double acc = 0;
			float v;

			for (int64_t k = 0; k < K; k++)
				acc += (double)fdata(A)[node->trans_a ? k * M + m : m * K + k] *
				       fdata(B)[node->trans_b ? n * K + k : k * N + n];
			v = (float)((double)node->alpha * acc);
			if (C)
				v += node->beta *
				     fdata(C)[bcast_offset((size_t)(m * N + n), 2, dims, st[1])];
			((float *)y->data)[m * N + n] = v;
		}
	}
	*out = y;
	return SAMPAN_OK;
}

/* MatMul of float operands of rank >= 2, batch dimensions broadcast. */
static int run_matmul(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_tensor *a = in[0], *b = in[1];
	int64_t M, K, N, dims[ONNX_MAX_DIMS], st[2][ONNX_MAX_DIMS];
	struct onnx_tensor ba = {0}, bb = {0}, *y;
	const struct onnx_tensor *batch[2] = {&ba, &bb};
	int nd, ret;

	if (a->ndim < 2 || b->ndim < 2)
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED,
		               "operands of rank below 2 are not supported (a %d-D, b %d-D)",
		               a->ndim, b->ndim);
	M = a->dims[a->ndim - 2];
	K = a->dims[a->ndim - 1];
	N = b->dims[b->ndim - 1];
	if (b->dims[b->ndim - 2] != K)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "inner dimensions differ (%lld and %lld)",
		               (long long)K, (long long)b->dims[b->ndim - 2]);
	/* The batch dimensions alone, broadcast as numpy does. */
	ba.ndim = a->ndim - 2;
	bb.ndim = b->ndim - 2;
	memcpy(ba.dims, a->dims, sizeof(ba.dims));
	memcpy(bb.dims, b->dims, sizeof(bb.dims));
	ret = broadcast(ctx, 2, batch, &nd, dims, st);
	if (ret)
		return ret;
	dims[nd] = M;
	dims[nd + 1] = N;
	ret = new_tensor(ctx, &y, ONNX_DT_FLOAT, nd + 2, dims);
	if (ret)
		return ret;
	ret = check_work(ctx, (int64_t)y->count, K);
	if (ret) {
		onnx_tensor_destroy(y);
		return ret;
	}
	for (size_t ob = 0; ob < y->count / (size_t)(M * N); ob++) {
		const float *pa = fdata(a) + bcast_offset(ob, nd, dims, st[0]) * (size_t)(M * K);
		const float *pb = fdata(b) + bcast_offset(ob, nd, dims, st[1]) * (size_t)(K * N);
		float *py = (float *)y->data + ob * (size_t)(M * N);

		for (int64_t m = 0; m < M; m++) {
			for (int64_t n = 0; n < N; n++) {
				double acc = 0;

				for (int64_t k = 0; k < K; k++)
					acc += (double)pa[m * K + k] * pb[k * N + n];
				py[m * N + n] = (float)acc;
			}
		}
	}
	*out = y;
	return SAMPAN_OK;
}

/* Float 2-D convolution, direct loops, optional bias (M). */
static int run_conv(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_tensor *x = in[0], *w = in[1], *bias = in[2];
	struct rt_conv_geom g;
	struct onnx_tensor *y;
	int64_t dims[4];
	size_t o = 0;
	int ret;

	ret = rt_conv_geometry(ctx, x, w, &g);
	if (ret)
		return ret;
	if (bias && (bias->ndim != 1 || bias->dims[0] != g.m))
		return rt_fail(ctx, SAMPAN_ERROR_INVALID, "the bias must be a vector of %lld",
		               (long long)g.m);
	dims[0] = g.n;
	dims[1] = g.m;
	dims[2] = g.oh;
	dims[3] = g.ow;
	ret = new_tensor(ctx, &y, ONNX_DT_FLOAT, 4, dims);
	if (ret)
		return ret;
	ret = check_work(ctx, (int64_t)y->count, g.cg * g.kh * g.kw);
	if (ret) {
		onnx_tensor_destroy(y);
		return ret;
	}
	for (int64_t b = 0; b < g.n; b++) {
		for (int64_t m = 0; m < g.m; m++) {
			const float *wm = fdata(w) + m * g.cg * g.kh * g.kw;
			const float *xg = fdata(x) + (b * g.c + m / g.mg * g.cg) * g.h * g.w;

			for (int64_t oy = 0; oy < g.oh; oy++) {
				for (int64_t ox = 0; ox < g.ow; ox++, o++) {
					double acc = bias ? fdata(bias)[m] : 0.0;

					for (int64_t c = 0; c < g.cg; c++) {
						for (int64_t ky = 0; ky < g.kh; ky++) {
							int64_t iy = oy * g.sh - g.ph + ky * g.dh;

							if (iy < 0 || iy >= g.h)
								continue;
							for (int64_t kx = 0; kx < g.kw; kx++) {
								int64_t ix =
								    ox * g.sw - g.pw + kx * g.dw;

								if (ix < 0 || ix >= g.w)
									continue;
								acc +=
								    (double)
								        xg[(c * g.h + iy) * g.w +
								           ix] *
								    wm[(c * g.kh + ky) * g.kw + kx];
							}
						}
					}
					((float *)y->data)[o] = (float)acc;
				}
			}
		}
	}
	*out = y;
	return SAMPAN_OK;
}

/* ------------------------------------------------------------- dispatch */

int rt_host_op_run(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	switch (ctx->node->op) {
	case ONNX_OP_MAXPOOL:
	case ONNX_OP_AVERAGEPOOL:
		return run_pool(ctx, in, out);
	case ONNX_OP_GLOBALAVERAGEPOOL:
		return run_globalaveragepool(ctx, in, out);
	case ONNX_OP_ADD:
		return run_add(ctx, in, out);
	case ONNX_OP_CONCAT:
		return run_concat(ctx, in, out);
	case ONNX_OP_FLATTEN:
		return run_flatten(ctx, in, out);
	case ONNX_OP_RESHAPE:
		return run_reshape(ctx, in, out);
	case ONNX_OP_RELU:
	case ONNX_OP_CLIP:
		return run_clamp(ctx, in, out);
	case ONNX_OP_SOFTMAX:
		return run_softmax(ctx, in, out);
	case ONNX_OP_GEMM:
		return run_gemm(ctx, in, out);
	case ONNX_OP_MATMUL:
		return run_matmul(ctx, in, out);
	case ONNX_OP_CONV:
		return run_conv(ctx, in, out);
	case ONNX_OP_BATCHNORM:
		return run_batchnorm(ctx, in, out);
	case ONNX_OP_REDUCEMEAN:
		return run_reducemean(ctx, in, out);
	default:
		return rt_fail(ctx, SAMPAN_ERROR_NOT_SUPPORTED, "no implementation");
	}
}
