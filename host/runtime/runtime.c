/*
 * runtime.c - runs an imported graph node by node (see runtime.h).
 */
#include "runtime/runtime.h"

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

int rt_run(const struct onnx_model *m, struct sampan_device *dev, struct onnx_tensor *const *inputs,
           struct onnx_tensor **outputs, struct rt_stats *stats, char *err, size_t err_size)
{
	return rt_run_ex(m, dev, inputs, outputs, stats, NULL, err, err_size);
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

int rt_run_ex(const struct onnx_model *m, struct sampan_device *dev,
              struct onnx_tensor *const *inputs, struct onnx_tensor **outputs,
              struct rt_stats *stats, const struct rt_hooks *hooks, char *err, size_t err_size)
{
	struct rt_ctx ctx = {.dev = dev, .err = err, .err_size = err_size};
	struct onnx_tensor **vals, **outs, *in[ONNX_MAX_NODE_INPUTS];
	bool *owned;
	double t0 = now_seconds();
	int ret = SAMPAN_OK, n_outs = 0;
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

		if (!inputs[i] || !onnx_value_matches(v, inputs[i])) {
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
