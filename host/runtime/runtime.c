/*
 * runtime.c - runs an imported graph node by node (see runtime.h): the
 * sessions, the run loop, the dispatch of each node to the device ops
 * (ops.c) or the host ops (host_ops.c), and what both op files share
 * (messages, convolution geometry).
 */
#include "runtime/runtime.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int copy_tensor(const struct onnx_tensor *src, struct onnx_tensor **dst)
{
	int ret = onnx_tensor_create(dst, src->dtype, src->ndim, src->dims);

	if (ret)
		return ret;
	memcpy((*dst)->data, src->data, src->count * onnx_dtype_size(src->dtype));
	return SAMPAN_OK;
}

/* ------------------------------------------------- shared by the op files */

int rt_fail(struct rt_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ctx->err, ctx->err_size, "node '%s' (%s): ", ctx->node->name,
	             onnx_op_name(ctx->node->op));
	if (n < 0 || (size_t)n >= ctx->err_size)
		return code;
	va_start(ap, fmt);
	vsnprintf(ctx->err + n, ctx->err_size - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

/* Output size and padding before along one axis. */
static int conv_axis(struct rt_ctx *ctx, const struct onnx_conv_attrs *a, int axis, int64_t in,
                     int64_t k, int64_t *outsz, int64_t *pad)
{
	int64_t s = a->strides[axis], ek = (k - 1) * a->dilations[axis] + 1;
	int64_t pb = a->pads[axis], pe = a->pads[axis + 2], total;

	switch (a->auto_pad) {
	case ONNX_PAD_SAME_UPPER:
	case ONNX_PAD_SAME_LOWER:
		*outsz = (in + s - 1) / s;
		total = (*outsz - 1) * s + ek - in;
		total = total > 0 ? total : 0;
		*pad = a->auto_pad == ONNX_PAD_SAME_UPPER ? total / 2 : total - total / 2;
		return SAMPAN_OK;
	case ONNX_PAD_VALID:
		pb = pe = 0;
		break;
	case ONNX_PAD_NOTSET:
		break;
	}
	if (in + pb + pe < ek)
		return rt_fail(
		    ctx, SAMPAN_ERROR_INVALID,
		    "the kernel (%lld with dilation) is larger than the padded input (%lld)",
		    (long long)ek, (long long)(in + pb + pe));
	*outsz = (in + pb + pe - ek) / s + 1;
	*pad = pb;
	return SAMPAN_OK;
}

int rt_conv_geometry(struct rt_ctx *ctx, const struct onnx_tensor *x, const struct onnx_tensor *w,
                     struct rt_conv_geom *g)
{
	const struct onnx_conv_attrs *a = &ctx->node->conv;
	int ret;

	if (x->ndim != 4 || w->ndim != 4)
		return rt_fail(
		    ctx, SAMPAN_ERROR_NOT_SUPPORTED,
		    "only 2-D convolutions are supported (x %d-D, w %d-D; both must be 4-D)",
		    x->ndim, w->ndim);
	*g = (struct rt_conv_geom){.n = x->dims[0],
	                           .c = x->dims[1],
	                           .h = x->dims[2],
	                           .w = x->dims[3],
	                           .m = w->dims[0],
	                           .kh = w->dims[2],
	                           .kw = w->dims[3],
	                           .sh = a->strides[0],
	                           .sw = a->strides[1],
	                           .dh = a->dilations[0],
	                           .dw = a->dilations[1],
	                           .group = a->group};
	if ((a->kernel[0] && a->kernel[0] != g->kh) || (a->kernel[1] && a->kernel[1] != g->kw))
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "kernel_shape [%lld, %lld] differs from the weights' [%lld, %lld]",
		               (long long)a->kernel[0], (long long)a->kernel[1], (long long)g->kh,
		               (long long)g->kw);
	if (g->c % g->group || g->m % g->group || w->dims[1] != g->c / g->group)
		return rt_fail(ctx, SAMPAN_ERROR_INVALID,
		               "%lld input channels, %lld output channels and weights of %lld "
		               "channels do not fit group %lld",
		               (long long)g->c, (long long)g->m, (long long)w->dims[1],
		               (long long)g->group);
	g->cg = g->c / g->group;
	g->mg = g->m / g->group;
	ret = conv_axis(ctx, a, 0, g->h, g->kh, &g->oh, &g->ph);
	return ret ? ret : conv_axis(ctx, a, 1, g->w, g->kw, &g->ow, &g->pw);
}

/* ------------------------------------------------------------- dispatch */

int rt_op_run(struct rt_ctx *ctx, struct onnx_tensor *const *in, struct onnx_tensor **out)
{
	const struct onnx_node *node = ctx->node;

	/* Types were checked at load time against declared inputs; values
	 * fed at run time are checked against their declarations too, so
	 * only an undeclared type could differ. */
	for (int i = 0; i < node->n_inputs; i++)
		if (in[i] && onnx_dtype_size(in[i]->dtype) == 0)
			return rt_fail(ctx, SAMPAN_ERROR_INVALID, "input %d has an unknown type",
			               i);
	switch (node->op) {
	case ONNX_OP_QLINEARMATMUL:
	case ONNX_OP_MATMULINTEGER:
	case ONNX_OP_QLINEARCONV:
	case ONNX_OP_CONVINTEGER:
	case ONNX_OP_QUANTIZELINEAR:
	case ONNX_OP_DEQUANTIZELINEAR:
		return rt_device_op_run(ctx, in, out);
	default:
		return rt_host_op_run(ctx, in, out);
	}
}

/* ----------------------------------------------------------------- sessions */

struct rt_session {
	const struct onnx_model *m;
	struct sampan_device *dev;
	struct sampan_weights ***wts; /* per node: its handles, or NULL */
	int *n_wts;                   /* per node */
	uint64_t weight_bytes;
	int weight_count;
	int batch;
};

void rt_session_destroy(struct rt_session *s)
{
	if (!s)
		return;
	for (int n = 0; s->wts && n < s->m->n_nodes; n++) {
		for (int i = 0; i < s->n_wts[n]; i++)
			sampan_weights_destroy(s->wts[n][i]);
		free(s->wts[n]);
	}
	free(s->wts);
	free(s->n_wts);
	free(s);
}

/* Bytes of the constant weights (int8) and biases (int32) of the device
 * products of @m, as uploaded. */
static uint64_t model_weight_bytes(const struct onnx_model *m)
{
	uint64_t bytes = 0;

	for (int n = 0; n < m->n_nodes; n++) {
		const struct onnx_node *node = &m->nodes[n];
		int w = -1, b = -1;

		if (node->op == ONNX_OP_QLINEARCONV || node->op == ONNX_OP_QLINEARMATMUL) {
			w = node->inputs[3];
			b = node->n_inputs > 8 ? node->inputs[8] : -1;
		} else if (node->op == ONNX_OP_CONVINTEGER || node->op == ONNX_OP_MATMULINTEGER) {
			w = node->inputs[1];
		}
		if (w >= 0 && m->values[w].init)
			bytes += m->values[w].init->count;
		if (b >= 0 && m->values[b].init)
			bytes += 4 * (uint64_t)m->values[b].init->count;
	}
	return bytes;
}

int rt_session_create(const struct onnx_model *m, struct sampan_device *dev,
                      struct rt_session **out, char *err, size_t err_size)
{
	struct rt_ctx ctx = {.dev = dev, .err = err, .err_size = err_size};
	struct rt_session *s = calloc(1, sizeof(*s));
	int ret = SAMPAN_OK;

	if (!s) {
		snprintf(err, err_size, "out of memory");
		return SAMPAN_ERROR_NO_MEM;
	}
	s->m = m;
	s->dev = dev;
	s->wts = calloc((size_t)m->n_nodes + 1, sizeof(*s->wts));
	s->n_wts = calloc((size_t)m->n_nodes + 1, sizeof(*s->n_wts));
	if (!s->wts || !s->n_wts) {
		snprintf(err, err_size, "out of memory");
		ret = SAMPAN_ERROR_NO_MEM;
		goto err_destroy;
	}
	for (int n = 0; n < m->n_nodes; n++) {
		ctx.node = &m->nodes[n];
		ret = rt_node_weights(&ctx, m, &m->nodes[n], &s->wts[n], &s->n_wts[n]);
		if (ret)
			goto err_destroy;
		for (int i = 0; i < s->n_wts[n]; i++)
			s->weight_bytes += sampan_weights_bytes(s->wts[n][i]);
		s->weight_count += s->n_wts[n];
	}
	*out = s;
	return SAMPAN_OK;

err_destroy:
	if (ret == SAMPAN_ERROR_DEVICE_MEM) {
		size_t len = strlen(err);
		struct sampan_info info;

		if (sampan_get_info(dev, &info) == SAMPAN_OK && len < err_size)
			snprintf(err + len, err_size - len,
			         "; the model's device weights and biases are %llu bytes in all, "
			         "%llu of them already on the card (%llu bytes of card memory, "
			         "%llu in use)",
			         (unsigned long long)model_weight_bytes(m),
			         (unsigned long long)s->weight_bytes,
			         (unsigned long long)info.mem_bytes,
			         (unsigned long long)info.mem_used);
	}
	rt_session_destroy(s);
	return ret;
}

uint64_t rt_session_weight_bytes(const struct rt_session *s)
{
	return s->weight_bytes;
}

int rt_session_weight_count(const struct rt_session *s)
{
	return s->weight_count;
}

void rt_session_set_batch(struct rt_session *s, int on)
{
	s->batch = on;
}

int rt_run(const struct onnx_model *m, struct sampan_device *dev, struct onnx_tensor *const *inputs,
           struct onnx_tensor **outputs, struct rt_stats *stats, char *err, size_t err_size)
{
	return rt_run_ex(m, dev, inputs, outputs, stats, NULL, err, err_size);
}

int rt_run_ex(const struct onnx_model *m, struct sampan_device *dev,
              struct onnx_tensor *const *inputs, struct onnx_tensor **outputs,
              struct rt_stats *stats, const struct rt_hooks *hooks, char *err, size_t err_size)
{
	struct rt_session *s;
	int ret = rt_session_create(m, dev, &s, err, err_size);

	if (ret)
		return ret;
	ret = rt_session_run(s, inputs, outputs, stats, hooks, err, err_size);
	rt_session_destroy(s);
	return ret;
}

static int observe(struct rt_ctx *ctx, const struct onnx_model *m, const struct rt_hooks *hooks,
                   int value, const struct onnx_tensor *t)
{
	int ret;

	if (!hooks || !hooks->on_value)
		return SAMPAN_OK;
	ret = hooks->on_value(hooks->user, value, t);
	if (ret)
		snprintf(ctx->err, ctx->err_size, "run stopped by its observer at value '%s'",
		         m->values[value].name);
	return ret;
}

/* Whether @t fits declaration @v but for a leading dimension where @v
 * declares 1 (or a symbol): a batch of t->dims[0]. */
static bool batch_matches(const struct onnx_value *v, const struct onnx_tensor *t)
{
	if ((v->dtype != ONNX_DT_UNKNOWN && v->dtype != t->dtype) || v->ndim < 1 ||
	    v->ndim != t->ndim || (v->dims[0] != 1 && v->dims[0] != -1))
		return false;
	for (int i = 1; i < t->ndim; i++)
		if (v->dims[i] >= 0 && v->dims[i] != t->dims[i])
			return false;
	return true;
}

int rt_session_run(struct rt_session *s, struct onnx_tensor *const *inputs,
                   struct onnx_tensor **outputs, struct rt_stats *stats,
                   const struct rt_hooks *hooks, char *err, size_t err_size)
{
	const struct onnx_model *m = s->m;
	struct rt_ctx ctx = {.dev = s->dev, .err = err, .err_size = err_size};
	struct onnx_tensor **vals, **outs, *in[ONNX_MAX_NODE_INPUTS];
	bool *owned;
	double t0 = now_seconds();
	int ret = SAMPAN_OK, n_outs = 0;
	int64_t batch = 1;
	char want[96], got[96];

	vals = calloc((size_t)m->n_values + 1, sizeof(*vals));
	owned = calloc((size_t)m->n_values + 1, sizeof(*owned));
	outs = calloc((size_t)m->n_outputs + 1, sizeof(*outs));
	if (!vals || !owned || !outs) {
		snprintf(err, err_size, "out of memory");
		ret = SAMPAN_ERROR_NO_MEM;
		goto out;
	}
	for (int v = 0; v < m->n_values; v++)
		vals[v] = m->values[v].init;
	for (int i = 0; i < m->n_inputs; i++) {
		const struct onnx_value *v = &m->values[m->inputs[i]];
		bool fits = inputs[i] && onnx_value_matches(v, inputs[i]);

		if (inputs[i] && !fits && s->batch && batch_matches(v, inputs[i]) &&
		    (i == 0 || batch == inputs[i]->dims[0])) {
			batch = inputs[i]->dims[0];
			fits = true;
		} else if (fits && s->batch && inputs[i]->ndim >= 1 &&
		           (v->ndim < 0 || v->dims[0] == -1)) {
			batch = inputs[i]->dims[0];
		}
		if (!fits) {
			snprintf(err, err_size, "input '%s': expected %s %s, got %s %s", v->name,
			         onnx_dtype_name(v->dtype),
			         v->ndim < 0 ? "of any shape"
			                     : onnx_shape_str(v->ndim, v->dims, want, sizeof(want)),
			         inputs[i] ? onnx_dtype_name(inputs[i]->dtype) : "nothing",
			         inputs[i] ? onnx_shape_str(inputs[i]->ndim, inputs[i]->dims, got,
			                                    sizeof(got))
			                   : "");
			ret = SAMPAN_ERROR_INVALID;
			goto out;
		}
		vals[m->inputs[i]] = inputs[i];
		ret = observe(&ctx, m, hooks, m->inputs[i], inputs[i]);
		if (ret)
			goto out;
	}
	for (int n = 0; n < m->n_nodes; n++) {
		const struct onnx_node *node = &m->nodes[n];
		int o = node->outputs[0];

		for (int i = 0; i < node->n_inputs; i++)
			in[i] = node->inputs[i] >= 0 ? vals[node->inputs[i]] : NULL;
		struct rt_stats before = ctx.stats;
		double tn = now_seconds();

		ctx.node = node;
		ctx.wts = s->wts[n];
		ctx.n_wts = s->n_wts[n];
		ret = rt_op_run(&ctx, in, &vals[o]);
		if (ret)
			goto out;
		owned[o] = true;
		if (hooks && hooks->node_stats) {
			struct rt_node_stats *ns = &hooks->node_stats[n];

			ns->gemms += ctx.stats.gemms - before.gemms;
			ns->cycles += ctx.stats.cycles - before.cycles;
			ns->macs += ctx.stats.macs - before.macs;
			ns->device_seconds += ctx.stats.device_seconds - before.device_seconds;
			ns->seconds += now_seconds() - tn;
		}
		ret = observe(&ctx, m, hooks, o, vals[o]);
		if (ret)
			goto out;
	}
	for (n_outs = 0; n_outs < m->n_outputs; n_outs++) {
		int v = m->outputs[n_outs];
		const struct onnx_value *d = &m->values[v];

		/* A batch must come out as it went in. */
		if (batch > 1 && d->ndim >= 1 && d->dims[0] == 1 &&
		    (vals[v]->ndim < 1 || vals[v]->dims[0] != batch)) {
			snprintf(err, err_size,
			         "the model does not batch: output '%s' is %s for a batch of %lld "
			         "inputs (run the images one at a time)",
			         d->name,
			         onnx_shape_str(vals[v]->ndim, vals[v]->dims, got, sizeof(got)),
			         (long long)batch);
			ret = SAMPAN_ERROR_NOT_SUPPORTED;
			goto out;
		}
		if (owned[v]) {
			outs[n_outs] = vals[v];
			owned[v] = false;
		} else if (copy_tensor(vals[v], &outs[n_outs]) != SAMPAN_OK) {
			snprintf(err, err_size, "out of memory");
			ret = SAMPAN_ERROR_NO_MEM;
			goto out;
		}
	}
	memcpy(outputs, outs, (size_t)m->n_outputs * sizeof(*outs));
	n_outs = 0;
	ctx.stats.total_seconds = now_seconds() - t0;
	ctx.stats.batch = batch;
	if (stats)
		*stats = ctx.stats;
out:
	for (int i = 0; i < n_outs; i++)
		onnx_tensor_destroy(outs[i]);
	for (int v = 0; v < m->n_values; v++)
		if (owned && owned[v])
			onnx_tensor_destroy(vals[v]);
	free(outs);
	free(owned);
	free(vals);
	return ret;
}
