/*
 * qdq_fold.c - the QDQ folding graph rewrite (see onnx_model.h): after the
 * importer has built and checked a graph, DequantizeLinear -> product ->
 * QuantizeLinear patterns become the quantized ops that run on the device,
 * and 8-bit MaxPool / Flatten / Reshape between equal Q/DQ parameters run
 * on the 8-bit values.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"
#include "sampan.h"

/* The initializer of value @v, or NULL (also for an omitted input). */
static const struct onnx_tensor *init_of(const struct onnx_model *m, int v)
{
	return v >= 0 ? m->values[v].init : NULL;
}

/* The node computing value @v if it is an @op node, else NULL. */
static struct onnx_node *producer_of(struct onnx_model *m, int v, enum onnx_op op)
{
	int p = v >= 0 ? m->values[v].producer : -1;

	return p >= 0 && m->nodes[p].op == op ? &m->nodes[p] : NULL;
}

/* Whether value @v is read by exactly one node and is no graph output. */
static bool used_once(const struct onnx_model *m, int v)
{
	int uses = 0;

	for (int i = 0; i < m->n_outputs; i++)
		if (m->outputs[i] == v)
			return false;
	for (int n = 0; n < m->n_nodes; n++)
		for (int i = 0; i < m->nodes[n].n_inputs; i++)
			uses += m->nodes[n].inputs[i] == v;
	return uses == 1;
}

static bool is_q8(enum onnx_dtype t)
{
	return t == ONNX_DT_UINT8 || t == ONNX_DT_INT8;
}

/* Whether @p is a per-tensor (one element) parameter, or with @per_axis a
 * vector of @channels. */
static bool param_fits(const struct onnx_tensor *p, bool per_axis, int64_t channels)
{
	return p->count == 1 || (per_axis && p->ndim == 1 && p->dims[0] == channels);
}

/* The weights' DequantizeLinear of a folded op: an int8 or uint8
 * initializer, dequantized per tensor or along @axis (the output
 * channels); fills @channels. */
static bool weights_fit(const struct onnx_model *m, const struct onnx_node *dw, int axis,
                        int64_t *channels)
{
	const struct onnx_tensor *w = init_of(m, dw->inputs[0]), *sw = init_of(m, dw->inputs[1]);
	const struct onnx_tensor *zw = init_of(m, dw->inputs[2]);
	int64_t a;

	if (!w || !sw || (dw->inputs[2] >= 0 && !zw) || !is_q8(w->dtype) || axis >= w->ndim)
		return false;
	a = dw->axis < 0 ? dw->axis + w->ndim : dw->axis;
	*channels = w->dims[axis];
	return param_fits(sw, a == axis, *channels) &&
	       (!zw || param_fits(zw, a == axis, *channels));
}

/* The bias's DequantizeLinear: an int32 initializer of @channels, zero
 * point 0 and scale sx * sw[c] bit for bit, so that the int32 bias adds
 * to the accumulator as it is. */
static bool bias_fits(const struct onnx_model *m, const struct onnx_node *db, float sx,
                      const struct onnx_tensor *sw, int64_t channels)
{
	const struct onnx_tensor *b = init_of(m, db->inputs[0]), *sb = init_of(m, db->inputs[1]);
	const struct onnx_tensor *zb = init_of(m, db->inputs[2]);
	bool per_axis = db->axis == 0 || db->axis == -1;

	if (!b || !sb || (db->inputs[2] >= 0 && !zb) || b->dtype != ONNX_DT_INT32 || b->ndim != 1 ||
	    b->dims[0] != channels || !param_fits(sb, per_axis, channels) ||
	    (zb && !param_fits(zb, per_axis, channels)))
		return false;
	for (int64_t c = 0; c < channels; c++) {
		float want = sx * ((const float *)sw->data)[sw->count == 1 ? 0 : c];

		if (((const float *)sb->data)[sb->count == 1 ? 0 : c] != want)
			return false;
		if (zb && ((const int32_t *)zb->data)[zb->count == 1 ? 0 : c] != 0)
			return false;
	}
	return true;
}

/* Whether Clip node @clip before a QuantizeLinear of scale @sy and zero
 * point @zy is a Relu there: a constant float min of 0, and no max or one
 * the QuantizeLinear saturates at anyway (rint(max / sy) + zy, in float
 * as QuantizeLinear computes it, at or above the type's top). */
static bool clip_is_relu(const struct onnx_model *m, const struct onnx_node *clip,
                         const struct onnx_tensor *sy, const struct onnx_tensor *zy)
{
	const struct onnx_tensor *lo = init_of(m, clip->n_inputs > 1 ? clip->inputs[1] : -1);
	const struct onnx_tensor *hi = init_of(m, clip->n_inputs > 2 ? clip->inputs[2] : -1);
	float top;

	if (clip->clip_attrs) { /* before opset 11: attributes */
		if (clip->clip_min != 0.0f || sy->dtype != ONNX_DT_FLOAT)
			return false;
		top = rintf(clip->clip_max / ((const float *)sy->data)[0]) +
		      (float)onnx_tensor_i64(zy, 0);
		return top >= (zy->dtype == ONNX_DT_UINT8 ? 255.0f : 127.0f);
	}
	if (!lo || lo->dtype != ONNX_DT_FLOAT || lo->count != 1 ||
	    ((const float *)lo->data)[0] != 0.0f || sy->dtype != ONNX_DT_FLOAT)
		return false;
	if (clip->n_inputs < 3 || clip->inputs[2] < 0)
		return true;
	if (!hi || hi->dtype != ONNX_DT_FLOAT || hi->count != 1)
		return false;
	top = rintf(((const float *)hi->data)[0] / ((const float *)sy->data)[0]) +
	      (float)onnx_tensor_i64(zy, 0);
	return top >= (zy->dtype == ONNX_DT_UINT8 ? 255.0f : 127.0f);
}

/* Folds the QDQ pattern ending in QuantizeLinear node @qi, if there is
 * one (see onnx_model.h), into the Conv, MatMul or Gemm node at its core,
 * which takes the QuantizeLinear's output; marks the QuantizeLinear and
 * Relu (or Relu-like Clip) nodes @dead. Returns whether it folded; -1 out
 * of memory. */
static int fold_one(struct onnx_model *m, int qi, bool *dead)
{
	struct onnx_node *q = &m->nodes[qi], *relu, *core, *dx, *dw, *db = NULL;
	const struct onnx_tensor *sx, *zx, *sy, *zy, *sw;
	int64_t channels;
	int core_in, axis, bias_v, *inputs;

	sy = init_of(m, q->inputs[1]);
	zy = init_of(m, q->inputs[2]);
	if (!sy || !zy || sy->count != 1 || zy->count != 1)
		return 0;
	relu = producer_of(m, q->inputs[0], ONNX_OP_RELU);
	if (!relu) {
		relu = producer_of(m, q->inputs[0], ONNX_OP_CLIP);
		if (relu && !clip_is_relu(m, relu, sy, zy))
			relu = NULL;
	}
	if (relu && !used_once(m, q->inputs[0]))
		return 0;
	core_in = relu ? relu->inputs[0] : q->inputs[0];
	if (core_in < 0 || m->values[core_in].producer < 0 || !used_once(m, core_in))
		return 0;
	core = &m->nodes[m->values[core_in].producer];
	switch (core->op) {
	case ONNX_OP_CONV:
		axis = 0;
		bias_v = core->inputs[2];
		break;
	case ONNX_OP_MATMUL:
		axis = 1;
		bias_v = -1;
		break;
	case ONNX_OP_GEMM:
		if (core->trans_a || core->alpha != 1.0f ||
		    (core->inputs[2] >= 0 && core->beta != 1.0f))
			return 0;
		axis = core->trans_b ? 0 : 1;
		bias_v = core->inputs[2];
		break;
	default:
		return 0;
	}
	dx = producer_of(m, core->inputs[0], ONNX_OP_DEQUANTIZELINEAR);
	dw = producer_of(m, core->inputs[1], ONNX_OP_DEQUANTIZELINEAR);
	if (!dx || !dw || !is_q8(m->values[dx->inputs[0]].dtype))
		return 0;
	sx = init_of(m, dx->inputs[1]);
	zx = init_of(m, dx->inputs[2]);
	if (!sx || sx->count != 1 || (dx->inputs[2] >= 0 && (!zx || zx->count != 1)))
		return 0;
	if (!weights_fit(m, dw, axis, &channels))
		return 0;
	/* The device's products are 2-D: MatMul weights must be a matrix. */
	if (core->op != ONNX_OP_CONV && m->values[dw->inputs[0]].init->ndim != 2)
		return 0;
	sw = init_of(m, dw->inputs[1]);
	if (bias_v >= 0) {
		db = producer_of(m, bias_v, ONNX_OP_DEQUANTIZELINEAR);
		if (!db || !bias_fits(m, db, ((const float *)sx->data)[0], sw, channels))
			return 0;
	}
	inputs = malloc(9 * sizeof(*inputs));
	if (!inputs)
		return -1;
	inputs[0] = dx->inputs[0];
	inputs[1] = dx->inputs[1];
	inputs[2] = dx->inputs[2];
	inputs[3] = dw->inputs[0];
	inputs[4] = dw->inputs[1];
	inputs[5] = dw->inputs[2];
	inputs[6] = q->inputs[1];
	inputs[7] = q->inputs[2];
	inputs[8] = db ? db->inputs[0] : -1;
	free(core->inputs);
	core->inputs = inputs;
	core->n_inputs = 9;
	core->trans_b = core->op == ONNX_OP_GEMM ? core->trans_b : 0;
	core->op = core->op == ONNX_OP_CONV ? ONNX_OP_QLINEARCONV : ONNX_OP_QLINEARMATMUL;
	core->fused_relu = relu != NULL;
	core->folded = 1;
	m->values[core_in].producer = -1;
	core->outputs[0] = q->outputs[0];
	m->values[q->outputs[0]].producer = (int)(core - m->nodes);
	dead[qi] = true;
	if (relu)
		dead[relu - m->nodes] = true;
	return 1;
}

/* Whether the per-tensor quantization parameters (scale, zero point) of
 * two Q/DQ nodes are the same, bit for bit, for the same element type. */
static bool same_qparams(const struct onnx_model *m, const struct onnx_node *a,
                         const struct onnx_node *b)
{
	const struct onnx_tensor *sa = init_of(m, a->inputs[1]), *sb = init_of(m, b->inputs[1]);
	const struct onnx_tensor *za = init_of(m, a->n_inputs > 2 ? a->inputs[2] : -1);
	const struct onnx_tensor *zb = init_of(m, b->n_inputs > 2 ? b->inputs[2] : -1);

	if (!sa || !sb || sa->count != 1 || sb->count != 1 || sa->dtype != ONNX_DT_FLOAT ||
	    sb->dtype != ONNX_DT_FLOAT ||
	    ((const float *)sa->data)[0] != ((const float *)sb->data)[0])
		return false;
	if ((a->n_inputs > 2 && a->inputs[2] >= 0 && !za) ||
	    (b->n_inputs > 2 && b->inputs[2] >= 0 && !zb))
		return false;
	/* An absent zero point is 0 of type uint8. */
	if ((za ? za->dtype : ONNX_DT_UINT8) != (zb ? zb->dtype : ONNX_DT_UINT8))
		return false;
	return (za ? onnx_tensor_i64(za, 0) : 0) == (zb ? onnx_tensor_i64(zb, 0) : 0);
}

/*
 * Folds DequantizeLinear -> MaxPool | Flatten | Reshape -> QuantizeLinear
 * (node @qi) with the same per-tensor scale and zero point on both sides
 * into the MaxPool, Flatten or Reshape node alone, run on the 8-bit
 * values. Exact: these ops only pick or move values, the maximum commutes
 * with the monotone dequantization, and quantizing a dequantized 8-bit
 * value with the same parameters gives it back (|x - z| <= 255, so the
 * float round trip is off by far less than half a step). MaxPool's
 * all-padding output (-inf) saturates to the type's least value either
 * way. Returns whether it folded.
 */
static int fold_passthrough(struct onnx_model *m, int qi, bool *dead)
{
	struct onnx_node *q = &m->nodes[qi], *core, *dq;
	int core_in = q->inputs[0];

	if (core_in < 0 || m->values[core_in].producer < 0 || !used_once(m, core_in))
		return 0;
	core = &m->nodes[m->values[core_in].producer];
	if (core->op != ONNX_OP_MAXPOOL && core->op != ONNX_OP_FLATTEN &&
	    core->op != ONNX_OP_RESHAPE)
		return 0;
	dq = producer_of(m, core->inputs[0], ONNX_OP_DEQUANTIZELINEAR);
	if (!dq || !is_q8(m->values[dq->inputs[0]].dtype) || !same_qparams(m, dq, q) ||
	    !used_once(m, core->inputs[0]))
		return 0;
	core->inputs[0] = dq->inputs[0];
	m->values[core_in].producer = -1;
	core->outputs[0] = q->outputs[0];
	m->values[q->outputs[0]].producer = (int)(core - m->nodes);
	dead[qi] = true;
	return 1;
}

int onnx_fold_qdq(struct onnx_model *m)
{
	bool *dead = calloc((size_t)m->n_nodes + 1, sizeof(*dead));
	int *uses = calloc((size_t)m->n_values + 1, sizeof(*uses));
	int *renum = calloc((size_t)m->n_nodes + 1, sizeof(*renum));
	int ret = SAMPAN_OK, kept = 0;

	if (!dead || !uses || !renum) {
		ret = SAMPAN_ERROR_NO_MEM;
		goto out;
	}
	for (int n = 0; n < m->n_nodes; n++) {
		int folded;

		if (m->nodes[n].op != ONNX_OP_QUANTIZELINEAR)
			continue;
		folded = fold_one(m, n, dead);
		if (folded < 0) {
			ret = SAMPAN_ERROR_NO_MEM;
			goto out;
		}
		if (!folded)
			fold_passthrough(m, n, dead);
	}
	for (int i = 0; i < m->n_outputs; i++)
		uses[m->outputs[i]]++;
	for (int n = 0; n < m->n_nodes; n++)
		for (int i = 0; i < m->nodes[n].n_inputs; i++)
			if (!dead[n] && m->nodes[n].inputs[i] >= 0)
				uses[m->nodes[n].inputs[i]]++;
	/* Consumers follow producers: one backward pass finds every node
	 * that only dead nodes read. */
	for (int n = m->n_nodes - 1; n >= 0; n--) {
		if (dead[n] || uses[m->nodes[n].outputs[0]] > 0)
			continue;
		dead[n] = true;
		for (int i = 0; i < m->nodes[n].n_inputs; i++)
			if (m->nodes[n].inputs[i] >= 0)
				uses[m->nodes[n].inputs[i]]--;
	}
	for (int n = 0; n < m->n_nodes; n++) {
		struct onnx_node *node = &m->nodes[n];

		if (dead[n]) {
			if (m->values[node->outputs[0]].producer == n)
				m->values[node->outputs[0]].producer = -1;
			free(node->name);
			free(node->inputs);
			free(node->outputs);
			continue;
		}
		renum[n] = kept;
		m->nodes[kept++] = *node;
	}
	for (int v = 0; v < m->n_values; v++)
		if (m->values[v].producer >= 0)
			m->values[v].producer = renum[m->values[v].producer];
	m->n_nodes = kept;
out:
	free(renum);
	free(uses);
	free(dead);
	return ret;
}
