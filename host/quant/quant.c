/*
 * quant.c - the QDQ rewrite of `sampan quantize` (see quant.h): works on
 * the ModelProto unpacked with protobuf-c and keeps everything it does not
 * change (names, metadata, other opset domains, value_info of the values
 * that remain).
 *
 * Steps, in order:
 *  1. BatchNormalization after a Conv whose output nothing else reads is
 *     folded into new Conv weights and bias (float, double arithmetic).
 *  2. A Relu, or a Clip with min 0, after a Conv/Gemm/MatMul that will be
 *     quantized is dropped: the product writes the activation's output,
 *     whose calibrated range starts at 0, so its zero point is -128 and
 *     QuantizeLinear's saturation is the activation, exactly.
 *  3. Products (Conv, Gemm, MatMul with constant float weights): weights
 *     per output channel, symmetric int8; bias int32 with scale x_scale *
 *     w_scale[c] computed in float (the importer's rule, bit for bit);
 *     Gemm's alpha and beta folded into them.
 *  4. Activations: a QuantizeLinear/DequantizeLinear pair (per tensor,
 *     asymmetric int8) after every float value read by a product or by a
 *     host op of the list below, and after every product's output. MaxPool,
 *     Flatten and Reshape pass their input's parameters on to their output
 *     (their values are a subset of the input's), so the pair after them
 *     is exact. Graph outputs keep their names and stay float.
 *  5. Unused initializers and stale value_info are dropped; the default
 *     opset is raised to 13 (per-axis DequantizeLinear) if lower.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx.pb-c.h"
#include "fileio.h"
#include "quant/quant.h"

/* --------------------------------------------------------------- context */

struct qconst {
	char *name;
	struct onnx_tensor *t; /* owned */
};

/* How an activation value is quantized. */
struct qact {
	char *name;   /* the value */
	char *src;    /* what its producer writes (the value, or a new name for a graph output) */
	char *dq;     /* what its readers read */
	float lo, hi; /* range */
	float scale;
	int8_t zp;
	bool emitted; /* its Q/DQ nodes are in the new list */
	int producer; /* index in the node list, -1 graph input */
};

struct qctx {
	Onnx__ModelProto *mp;
	Onnx__GraphProto *g;
	const struct onnx_model *m;
	const struct quant_calib *c;
	struct quant_options opt;
	struct quant_report *rep;
	char *err;
	size_t err_size;
	int ret;
	int64_t opset;

	Onnx__NodeProto **nodes; /* working list; NULL entries are removed nodes */
	size_t n_nodes;

	struct qconst *consts; /* float constants made here (BN folding) */
	int n_consts;

	struct qact *acts;
	int n_acts;

	char **names; /* every name in use, for new unique ones */
	size_t n_names, cap_names;
};

static int qfail(struct qctx *q, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int qfail(struct qctx *q, int code, const char *fmt, ...)
{
	va_list ap;

	if (q->ret)
		return q->ret;
	va_start(ap, fmt);
	vsnprintf(q->err, q->err_size, fmt, ap);
	va_end(ap);
	q->ret = code;
	return code;
}

static int no_mem(struct qctx *q)
{
	return qfail(q, SAMPAN_ERROR_NO_MEM, "out of memory");
}

static char *qstrdup(struct qctx *q, const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		no_mem(q);
	return d;
}

/* Appends @p to the array @arr of @n pointers; false out of memory. */
static bool push_ptr(void ***arr, size_t *n, void *p)
{
	void **a = realloc(*arr, (*n + 1) * sizeof(*a));

	if (!a)
		return false;
	a[(*n)++] = p;
	*arr = a;
	return true;
}

/* ----------------------------------------------------------------- names */

static bool name_used(const struct qctx *q, const char *s)
{
	for (size_t i = 0; i < q->n_names; i++)
		if (strcmp(q->names[i], s) == 0)
			return true;
	return false;
}

static bool add_name(struct qctx *q, const char *s)
{
	if (!s || !s[0] || name_used(q, s))
		return true;
	if (q->n_names == q->cap_names) {
		size_t cap = q->cap_names ? 2 * q->cap_names : 256;
		char **n = realloc(q->names, cap * sizeof(*n));

		if (!n)
			return false;
		q->names = n;
		q->cap_names = cap;
	}
	q->names[q->n_names] = strdup(s);
	if (!q->names[q->n_names])
		return false;
	q->n_names++;
	return true;
}

/* A new name "@base@suffix", made unique with "_N"; malloc'd. */
static char *new_name(struct qctx *q, const char *base, const char *suffix)
{
	size_t len = strlen(base) + strlen(suffix) + 24;
	char *s = malloc(len);

	if (!s) {
		no_mem(q);
		return NULL;
	}
	snprintf(s, len, "%s%s", base, suffix);
	for (int i = 1; name_used(q, s); i++)
		snprintf(s, len, "%s%s_%d", base, suffix, i);
	if (!add_name(q, s)) {
		free(s);
		no_mem(q);
		return NULL;
	}
	return s;
}

static bool collect_names(struct qctx *q)
{
	const Onnx__GraphProto *g = q->g;

	for (size_t i = 0; i < g->n_input; i++)
		if (!add_name(q, g->input[i]->name))
			return false;
	for (size_t i = 0; i < g->n_output; i++)
		if (!add_name(q, g->output[i]->name))
			return false;
	for (size_t i = 0; i < g->n_initializer; i++)
		if (!add_name(q, g->initializer[i]->name))
			return false;
	for (size_t i = 0; i < g->n_value_info; i++)
		if (!add_name(q, g->value_info[i]->name))
			return false;
	for (size_t n = 0; n < g->n_node; n++) {
		for (size_t i = 0; i < g->node[n]->n_output; i++)
			if (!add_name(q, g->node[n]->output[i]))
				return false;
		if (!add_name(q, g->node[n]->name))
			return false;
	}
	return true;
}

/* ----------------------------------------------------------- graph facts */

static bool is_op(const Onnx__NodeProto *n, const char *op)
{
	return n && n->op_type && strcmp(n->op_type, op) == 0 &&
	       (!n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

/* Input @i of node @n, or "" when omitted. */
static const char *in_name(const Onnx__NodeProto *n, size_t i)
{
	return i < n->n_input && n->input[i] ? n->input[i] : "";
}

static int model_value(const struct qctx *q, const char *name)
{
	for (int v = 0; v < q->m->n_values; v++)
		if (strcmp(q->m->values[v].name, name) == 0)
			return v;
	return -1;
}

/* The float constant @name (an initializer of the model, or one made
 * here), or NULL. */
static const struct onnx_tensor *const_of(const struct qctx *q, const char *name)
{
	int v;

	if (!name || !name[0])
		return NULL;
	for (int i = q->n_consts - 1; i >= 0; i--)
		if (strcmp(q->consts[i].name, name) == 0)
			return q->consts[i].t;
	v = model_value(q, name);
	return v >= 0 ? q->m->values[v].init : NULL;
}

static const struct onnx_tensor *float_const(const struct qctx *q, const char *name)
{
	const struct onnx_tensor *t = const_of(q, name);

	return t && t->dtype == ONNX_DT_FLOAT ? t : NULL;
}

static bool is_graph_output(const struct qctx *q, const char *name)
{
	for (size_t i = 0; i < q->g->n_output; i++)
		if (strcmp(q->g->output[i]->name, name) == 0)
			return true;
	return false;
}

static bool is_graph_input(const struct qctx *q, const char *name)
{
	for (size_t i = 0; i < q->g->n_input; i++)
		if (strcmp(q->g->input[i]->name, name) == 0)
			return true;
	return false;
}

/* How many node inputs read @name. */
static int readers(const struct qctx *q, const char *name)
{
	int k = 0;

	for (size_t n = 0; n < q->n_nodes; n++)
		for (size_t i = 0; q->nodes[n] && i < q->nodes[n]->n_input; i++)
			k += strcmp(q->nodes[n]->input[i], name) == 0;
	return k;
}

/* The first node reading @name, or -1. */
static int first_reader(const struct qctx *q, const char *name)
{
	for (size_t n = 0; n < q->n_nodes; n++)
		for (size_t i = 0; q->nodes[n] && i < q->nodes[n]->n_input; i++)
			if (strcmp(q->nodes[n]->input[i], name) == 0)
				return (int)n;
	return -1;
}

/* The node writing @name, or -1. */
static int producer(const struct qctx *q, const char *name)
{
	for (size_t n = 0; n < q->n_nodes; n++)
		for (size_t i = 0; q->nodes[n] && i < q->nodes[n]->n_output; i++)
			if (strcmp(q->nodes[n]->output[i], name) == 0)
				return (int)n;
	return -1;
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
	for (size_t i = 0; i < n->n_attribute; i++)
		if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
			return n->attribute[i];
	return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t def)
{
	const Onnx__AttributeProto *a = attr(n, name);

	return a ? a->i : def;
}

static float attr_f(const Onnx__NodeProto *n, const char *name, float def)
{
	const Onnx__AttributeProto *a = attr(n, name);

	return a ? a->f : def;
}

/* Sets (or adds) an INT attribute. */
static bool set_attr_i(Onnx__NodeProto *n, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = (Onnx__AttributeProto *)attr(n, name);

	if (!a) {
		a = malloc(sizeof(*a));
		if (!a)
			return false;
		onnx__attribute_proto__init(a);
		a->name = strdup(name);
		if (!a->name || !push_ptr((void ***)&n->attribute, &n->n_attribute, a)) {
			free(a->name);
			free(a);
			return false;
		}
	}
	a->has_type = 1;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
	a->has_i = 1;
	a->i = v;
	return true;
}

static bool set_attr_f(Onnx__NodeProto *n, const char *name, float v)
{
	Onnx__AttributeProto *a = (Onnx__AttributeProto *)attr(n, name);

	if (!a) {
		a = malloc(sizeof(*a));
		if (!a)
			return false;
		onnx__attribute_proto__init(a);
		a->name = strdup(name);
		if (!a->name || !push_ptr((void ***)&n->attribute, &n->n_attribute, a)) {
			free(a->name);
			free(a);
			return false;
		}
	}
	a->has_type = 1;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
	a->has_f = 1;
	a->f = v;
	return true;
}

/* Replaces string @slot with a copy of @s. */
static bool set_str(char **slot, const char *s)
{
	char *d = strdup(s);

	if (!d)
		return false;
	free(*slot);
	*slot = d;
	return true;
}

/* Sets input @i of @n, growing the list with "" as needed. */
static bool set_input(Onnx__NodeProto *n, size_t i, const char *s)
{
	while (n->n_input <= i) {
		char *e = strdup("");

		if (!e || !push_ptr((void ***)&n->input, &n->n_input, e)) {
			free(e);
			return false;
		}
	}
	return set_str(&n->input[i], s);
}

/* --------------------------------------------------------------- builders */

/* A new initializer @name of @dtype and @ndim @dims holding @data. */
static bool add_init(struct qctx *q, const char *name, int dtype, int ndim, const int64_t *dims,
                     const void *data)
{
	Onnx__TensorProto *t = malloc(sizeof(*t));
	size_t count = 1, bytes;

	if (!t)
		return false;
	onnx__tensor_proto__init(t);
	for (int d = 0; d < ndim; d++)
		count *= (size_t)dims[d];
	bytes = count * onnx_dtype_size(dtype);
	t->name = strdup(name);
	t->dims = ndim ? malloc((size_t)ndim * sizeof(*t->dims)) : NULL;
	/* raw_data is little endian: the host's order on the platforms
	 * sampan builds for (x86-64, aarch64). */
	t->raw_data.data = malloc(bytes ? bytes : 1);
	if (!t->name || (ndim && !t->dims) || !t->raw_data.data ||
	    !push_ptr((void ***)&q->g->initializer, &q->g->n_initializer, t)) {
		protobuf_c_message_free_unpacked(&t->base, NULL);
		return false;
	}
	t->n_dims = (size_t)ndim;
	if (ndim)
		memcpy(t->dims, dims, (size_t)ndim * sizeof(*dims));
	t->has_data_type = 1;
	t->data_type = dtype;
	t->has_raw_data = 1;
	t->raw_data.len = bytes;
	memcpy(t->raw_data.data, data, bytes);
	return true;
}

/* A new node @op reading @n_in names and writing @out. */
static Onnx__NodeProto *make_node(struct qctx *q, const char *op, const char *name,
                                  const char *const *in, size_t n_in, const char *out)
{
	Onnx__NodeProto *n = malloc(sizeof(*n));

	if (!n) {
		no_mem(q);
		return NULL;
	}
	onnx__node_proto__init(n);
	n->op_type = strdup(op);
	n->name = new_name(q, name, "_node");
	n->input = calloc(n_in, sizeof(*n->input));
	n->output = calloc(1, sizeof(*n->output));
	if (!n->op_type || !n->name || !n->input || !n->output)
		goto err;
	for (size_t i = 0; i < n_in; i++) {
		n->input[i] = strdup(in[i]);
		if (!n->input[i])
			goto err;
		n->n_input++;
	}
	n->output[0] = strdup(out);
	if (!n->output[0])
		goto err;
	n->n_output = 1;
	return n;
err:
	protobuf_c_message_free_unpacked(&n->base, NULL);
	no_mem(q);
	return NULL;
}

/* Keeps a float tensor made here under @name (takes @t). */
static bool keep_const(struct qctx *q, const char *name, struct onnx_tensor *t)
{
	struct qconst *c = realloc(q->consts, ((size_t)q->n_consts + 1) * sizeof(*c));

	if (!c)
		return false;
	q->consts = c;
	c[q->n_consts].name = strdup(name);
	if (!c[q->n_consts].name)
		return false;
	c[q->n_consts++].t = t;
	return true;
}

/* A new float initializer named after @base, also kept as a constant;
 * returns its name (malloc'd) or NULL. Takes @t. */
static char *add_float_const(struct qctx *q, const char *base, const char *suffix,
                             struct onnx_tensor *t)
{
	char *name = new_name(q, base, suffix);

	if (!name || !add_init(q, name, ONNX_DT_FLOAT, t->ndim, t->dims, t->data) ||
	    !keep_const(q, name, t)) {
		if (name)
			no_mem(q);
		onnx_tensor_destroy(t);
		free(name);
		return NULL;
	}
	return name;
}

static void drop_node(struct qctx *q, size_t n)
{
	protobuf_c_message_free_unpacked(&q->nodes[n]->base, NULL);
	q->nodes[n] = NULL;
}

/* ------------------------------------------------------ 1. BatchNorm fold */

static void fold_batchnorms(struct qctx *q)
{
	for (size_t n = 0; n < q->n_nodes && !q->ret; n++) {
		Onnx__NodeProto *bn = q->nodes[n], *conv;
		const struct onnx_tensor *w, *b, *gam, *bet, *mean, *var;
		struct onnx_tensor *nw = NULL, *nb = NULL;
		int p;
		int64_t mch, inner;
		float eps;
		char *wname, *bname;

		if (!bn || !is_op(bn, "BatchNormalization") || attr_i(bn, "training_mode", 0))
			continue;
		for (size_t o = 1; o < bn->n_output; o++)
			if (bn->output[o][0])
				goto next;
		p = producer(q, in_name(bn, 0));
		if (p < 0 || !is_op(q->nodes[p], "Conv") || readers(q, in_name(bn, 0)) != 1 ||
		    is_graph_output(q, in_name(bn, 0)))
			continue;
		conv = q->nodes[p];
		w = float_const(q, in_name(conv, 1));
		b = float_const(q, in_name(conv, 2));
		gam = float_const(q, in_name(bn, 1));
		bet = float_const(q, in_name(bn, 2));
		mean = float_const(q, in_name(bn, 3));
		var = float_const(q, in_name(bn, 4));
		if (!w || w->ndim < 3 || (in_name(conv, 2)[0] && !b) || !gam || !bet || !mean ||
		    !var)
			continue;
		mch = w->dims[0];
		if ((int64_t)gam->count != mch || (int64_t)bet->count != mch ||
		    (int64_t)mean->count != mch || (int64_t)var->count != mch ||
		    (b && (int64_t)b->count != mch))
			continue;
		eps = attr_f(bn, "epsilon", 1e-5f);
		if (onnx_tensor_create(&nw, ONNX_DT_FLOAT, w->ndim, w->dims) ||
		    onnx_tensor_create(&nb, ONNX_DT_FLOAT, 1, &mch)) {
			onnx_tensor_destroy(nw);
			no_mem(q);
			return;
		}
		inner = (int64_t)w->count / mch;
		for (int64_t c = 0; c < mch; c++) {
			double f = ((const float *)gam->data)[c] /
			           sqrt((double)((const float *)var->data)[c] + (double)eps);
			double b0 = b ? ((const float *)b->data)[c] : 0.0;

			for (int64_t i = 0; i < inner; i++)
				((float *)nw->data)[c * inner + i] =
				    (float)(((const float *)w->data)[c * inner + i] * f);
			((float *)nb->data)[c] = (float)((b0 - ((const float *)mean->data)[c]) * f +
			                                 ((const float *)bet->data)[c]);
		}
		wname = add_float_const(q, in_name(conv, 1), "_bn_folded", nw);
		if (!wname) {
			onnx_tensor_destroy(nb);
			return;
		}
		bname = add_float_const(q,
		                        in_name(conv, 2)[0]           ? in_name(conv, 2)
		                        : conv->name && conv->name[0] ? conv->name
		                                                      : "conv",
		                        in_name(conv, 2)[0] ? "_bn_folded" : "_bias_bn_folded", nb);
		if (!wname || !bname || !set_input(conv, 1, wname) || !set_input(conv, 2, bname) ||
		    !set_str(&conv->output[0], bn->output[0])) {
			free(wname);
			free(bname);
			no_mem(q);
			return;
		}
		free(wname);
		free(bname);
		drop_node(q, n);
		q->rep->bn_folded++;
	next:;
	}
}

/* ------------------------------------------------------------- products */

/* Whether @name is a float value with a calibrated range (not a constant). */
static bool calibrated(const struct qctx *q, const char *name)
{
	int v = model_value(q, name);
	float lo, hi;

	if (v < 0 || q->m->values[v].init || const_of(q, name))
		return false;
	return quant_calib_range(q->c, v, q->opt.method, q->opt.percentile, &lo, &hi);
}

/* Whether node @n is a product this quantizer turns int8: a Conv (2-D),
 * Gemm or MatMul with constant float weights and a calibrated input. */
static bool is_product(const struct qctx *q, const Onnx__NodeProto *n)
{
	const struct onnx_tensor *w;

	if (!n || !(is_op(n, "Conv") || is_op(n, "Gemm") || is_op(n, "MatMul")))
		return false;
	w = float_const(q, in_name(n, 1));
	if (!w || !calibrated(q, in_name(n, 0)) || n->n_output != 1)
		return false;
	if (is_op(n, "Conv"))
		return w->ndim == 4;
	if (is_op(n, "Gemm"))
		return w->ndim == 2;
	return w->ndim >= 1;
}

/* The lower bound of Clip node @n if it is a constant, else NAN. */
static float clip_min(const struct qctx *q, const Onnx__NodeProto *n)
{
	const struct onnx_tensor *t = float_const(q, in_name(n, 1));

	return t && t->count == 1 ? ((const float *)t->data)[0] : NAN;
}

/* --------------------------------------------------- 2. activation fusion */

static void fuse_activations(struct qctx *q)
{
	for (size_t n = 0; n < q->n_nodes && !q->ret; n++) {
		Onnx__NodeProto *core = q->nodes[n], *act;
		const char *out;
		int r;

		if (!is_product(q, core))
			continue;
		out = core->output[0];
		if (is_graph_output(q, out) || readers(q, out) != 1)
			continue;
		r = first_reader(q, out);
		act = q->nodes[r];
		if (!(is_op(act, "Relu") || (is_op(act, "Clip") && clip_min(q, act) == 0.0f)) ||
		    act->n_output != 1 || !calibrated(q, act->output[0]))
			continue;
		if (is_op(act, "Clip")) {
			const struct onnx_tensor *hi = float_const(q, in_name(act, 2));

			if (in_name(act, 2)[0] &&
			    (!hi || hi->count != 1 || !(((const float *)hi->data)[0] > 0)))
				continue;
		}
		if (!set_str(&core->output[0], act->output[0])) {
			no_mem(q);
			return;
		}
		drop_node(q, (size_t)r);
		q->rep->act_fused++;
	}
}

/* ---------------------------------------------------------- activations */

static struct qact *find_act(const struct qctx *q, const char *name)
{
	for (int i = 0; i < q->n_acts; i++)
		if (strcmp(q->acts[i].name, name) == 0)
			return &q->acts[i];
	return NULL;
}

/* Ops whose output values are a subset of their input's: the input's
 * parameters carry over. */
static bool passes_params(const Onnx__NodeProto *n)
{
	return is_op(n, "MaxPool") || is_op(n, "Flatten") || is_op(n, "Reshape");
}

/* Host ops whose float inputs are given int8 values (the first only,
 * or all with @all). */
static bool takes_int8(const Onnx__NodeProto *n, bool *all)
{
	static const char *const first[] = {"MaxPool", "AveragePool", "GlobalAveragePool",
	                                    "Flatten", "Reshape",     "Softmax",
	                                    "Relu",    "Clip",        "BatchNormalization"};

	*all = is_op(n, "Add") || is_op(n, "Concat");
	if (*all)
		return true;
	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
		if (is_op(n, first[i]))
			return true;
	return false;
}

/* Marks value @name for a Q/DQ pair (if it is a calibrated float value). */
static void want_act(struct qctx *q, const char *name)
{
	struct qact *a;
	int v;

	if (!name[0] || find_act(q, name) || !calibrated(q, name) ||
	    (is_graph_input(q, name) && is_graph_output(q, name)))
		return;
	a = realloc(q->acts, ((size_t)q->n_acts + 1) * sizeof(*a));
	if (!a) {
		no_mem(q);
		return;
	}
	q->acts = a;
	a = &q->acts[q->n_acts];
	memset(a, 0, sizeof(*a));
	a->name = qstrdup(q, name);
	if (!a->name)
		return;
	q->n_acts++;
	a->producer = producer(q, name);
	v = model_value(q, name);
	quant_calib_range(q->c, v, q->opt.method, q->opt.percentile, &a->lo, &a->hi);
	if (is_graph_output(q, name)) {
		a->src = new_name(q, name, "_float");
		a->dq = qstrdup(q, name);
	} else {
		a->src = qstrdup(q, name);
		a->dq = new_name(q, name, "_dequantized");
	}
}

static void choose_acts(struct qctx *q)
{
	for (size_t n = 0; n < q->n_nodes && !q->ret; n++) {
		Onnx__NodeProto *node = q->nodes[n];
		bool all;

		if (!node)
			continue;
		if (is_product(q, node)) {
			want_act(q, in_name(node, 0));
			want_act(q, node->output[0]);
		} else if (takes_int8(node, &all)) {
			for (size_t i = 0; i < (all ? node->n_input : 1); i++)
				want_act(q, in_name(node, i));
		}
	}
	/* Parameters, in node order so that a pass-through op sees its
	 * input's final ones. */
	for (int i = 0; i < q->n_acts; i++)
		quant_act_params(q->acts[i].lo, q->acts[i].hi, &q->acts[i].scale, &q->acts[i].zp);
	for (size_t n = 0; n < q->n_nodes; n++) {
		const Onnx__NodeProto *node = q->nodes[n];
		struct qact *in, *out;

		if (!node || !passes_params(node) || node->n_output < 1)
			continue;
		in = find_act(q, in_name(node, 0));
		out = find_act(q, node->output[0]);
		if (in && out) {
			out->lo = in->lo;
			out->hi = in->hi;
			out->scale = in->scale;
			out->zp = in->zp;
		}
	}
}

/* ------------------------------------------------------ 3. weights, bias */

/* The new node list being built. */
struct nodelist {
	Onnx__NodeProto **v;
	size_t n;
};

static bool emit(struct qctx *q, struct nodelist *l, Onnx__NodeProto *n)
{
	if (!n)
		return false;
	if (!push_ptr((void ***)&l->v, &l->n, n)) {
		protobuf_c_message_free_unpacked(&n->base, NULL);
		no_mem(q);
		return false;
	}
	return true;
}

/* Adds a line to the report: @e with copies of @tensor and @node. */
static bool add_entry(struct qctx *q, const struct quant_entry *e, const char *tensor,
                      const char *node)
{
	struct quant_report *r = q->rep;
	struct quant_entry *n = realloc(r->entries, ((size_t)r->n_entries + 1) * sizeof(*n));

	if (!n) {
		no_mem(q);
		return false;
	}
	r->entries = n;
	n[r->n_entries] = *e;
	n[r->n_entries].tensor = strdup(tensor);
	n[r->n_entries].node = strdup(node ? node : "");
	if (!n[r->n_entries].tensor || !n[r->n_entries].node) {
		free(n[r->n_entries].tensor);
		free(n[r->n_entries].node);
		no_mem(q);
		return false;
	}
	r->n_entries++;
	return true;
}

/* A DequantizeLinear of new initializers (q, scale, zero point) named
 * after @base; @axis < 0: per tensor. Returns the output name or NULL. */
static char *emit_dq_const(struct qctx *q, struct nodelist *l, const char *base, int qtype,
                           int ndim, const int64_t *dims, const void *data, int64_t channels,
                           const float *scale, int axis, bool zero_point)
{
	char *qn = new_name(q, base, "_quantized"), *sn = new_name(q, base, "_scale");
	char *zn = zero_point ? new_name(q, base, "_zero_point") : NULL;
	char *on = new_name(q, base, "_dequantized");
	void *zeros = calloc((size_t)channels, onnx_dtype_size(qtype));
	const char *in[3];
	Onnx__NodeProto *node;
	bool ok = false;

	if (!qn || !sn || (zero_point && !zn) || !on || !zeros) {
		no_mem(q);
		goto out;
	}
	if (!add_init(q, qn, qtype, ndim, dims, data) ||
	    !add_init(q, sn, ONNX_DT_FLOAT, axis >= 0 ? 1 : 0, &channels, scale) ||
	    (zero_point && !add_init(q, zn, qtype, axis >= 0 ? 1 : 0, &channels, zeros))) {
		no_mem(q);
		goto out;
	}
	in[0] = qn;
	in[1] = sn;
	in[2] = zn;
	node = make_node(q, "DequantizeLinear", on, in, zero_point ? 3 : 2, on);
	if (!node || (axis >= 0 && !set_attr_i(node, "axis", axis))) {
		if (node)
			protobuf_c_message_free_unpacked(&node->base, NULL);
		no_mem(q);
		goto out;
	}
	ok = emit(q, l, node);
out:
	free(zeros);
	free(qn);
	free(sn);
	free(zn);
	if (!ok) {
		free(on);
		return NULL;
	}
	return on;
}

/* Quantizes the weights and bias of product @node (before it is emitted):
 * their DequantizeLinear nodes go to @l, the node's inputs are renamed. */
static void quantize_product(struct qctx *q, struct nodelist *l, Onnx__NodeProto *node)
{
	const struct onnx_tensor *w = float_const(q, in_name(node, 1));
	const struct onnx_tensor *b = float_const(q, in_name(node, 2));
	const struct qact *x = find_act(q, in_name(node, 0));
	bool gemm = is_op(node, "Gemm");
	float alpha = gemm ? attr_f(node, "alpha", 1.0f) : 1.0f;
	float beta = gemm ? attr_f(node, "beta", 1.0f) : 1.0f;
	int axis, ndim = w->ndim;
	int64_t channels, dims[ONNX_MAX_DIMS];
	int8_t *wq = malloc(w->count);
	float *wf = malloc(w->count * sizeof(*wf)), *ws = NULL, *bs = NULL;
	int32_t *bq = NULL;
	char *wname = NULL, *bname = NULL;
	struct quant_entry e = {.kind = QUANT_WEIGHT};

	if (!wq || !wf) {
		no_mem(q);
		goto out;
	}
	memcpy(dims, w->dims, sizeof(dims));
	if (is_op(node, "Conv"))
		axis = 0;
	else if (gemm)
		axis = attr_i(node, "transB", 0) ? 0 : 1;
	else
		axis = ndim == 2 ? 1 : -1;
	for (size_t i = 0; i < w->count; i++)
		wf[i] = ((const float *)w->data)[i] * alpha;
	if (axis < 0) {
		/* Per tensor: one channel over everything. */
		int64_t all[2] = {1, (int64_t)w->count};

		channels = 1;
		ws = malloc(sizeof(*ws));
		if (!ws) {
			no_mem(q);
			goto out;
		}
		quant_weights(wf, 2, all, 0, wq, ws);
	} else {
		channels = dims[axis];
		ws = malloc((size_t)channels * sizeof(*ws));
		if (!ws) {
			no_mem(q);
			goto out;
		}
		quant_weights(wf, ndim, dims, axis, wq, ws);
	}
	e.channels = channels;
	e.scale = e.scale_max = ws[0];
	for (int64_t c = 0; c < channels; c++) {
		e.scale = fminf(e.scale, ws[c]);
		e.scale_max = fmaxf(e.scale_max, ws[c]);
	}
	e.lo = -127 * e.scale_max;
	e.hi = 127 * e.scale_max;
	if (!add_entry(q, &e, node->input[1], node->name))
		goto out;
	wname = emit_dq_const(q, l, in_name(node, 1), ONNX_DT_INT8, ndim, dims, wq, channels, ws,
	                      axis, true);
	if (!wname)
		goto out;
	if (!set_input(node, 1, wname)) {
		no_mem(q);
		goto out;
	}
	if (gemm && alpha != 1.0f && !set_attr_f(node, "alpha", 1.0f)) {
		no_mem(q);
		goto out;
	}
	/* Bias: one value per output channel (Gemm's may be (N), (1, N) or a
	 * single value); a matrix bias stays float. */
	if (b && axis >= 0 && x && (is_op(node, "Conv") || gemm)) {
		int64_t n = channels;
		struct quant_entry eb = {.kind = QUANT_BIAS, .channels = n};

		if (!(b->count == 1 || ((int64_t)b->count == n && b->dims[b->ndim - 1] == n)))
			goto out;
		bq = malloc((size_t)n * sizeof(*bq));
		bs = malloc((size_t)n * sizeof(*bs));
		if (!bq || !bs) {
			no_mem(q);
			goto out;
		}
		for (int64_t c = 0; c < n; c++) {
			float bv = ((const float *)b->data)[b->count == 1 ? 0 : c] * beta;

			bs[c] = x->scale * ws[c];
			eb.saturated |= quant_bias(bv, x->scale, ws[c], &bq[c]);
			eb.lo = c ? fminf(eb.lo, bv) : bv;
			eb.hi = c ? fmaxf(eb.hi, bv) : bv;
			eb.scale = c ? fminf(eb.scale, bs[c]) : bs[c];
			eb.scale_max = c ? fmaxf(eb.scale_max, bs[c]) : bs[c];
		}
		if (!add_entry(q, &eb, node->input[2], node->name))
			goto out;
		bname = emit_dq_const(q, l, in_name(node, 2), ONNX_DT_INT32, 1, &n, bq, n, bs, 0,
		                      false);
		if (!bname)
			goto out;
		if (!set_input(node, 2, bname) ||
		    (gemm && beta != 1.0f && !set_attr_f(node, "beta", 1.0f)))
			no_mem(q);
	}
out:
	free(wq);
	free(wf);
	free(ws);
	free(bq);
	free(bs);
	free(wname);
	free(bname);
}

/* ------------------------------------------------------------ 4. Q/DQ */

/* Emits the QuantizeLinear and DequantizeLinear of activation @a. */
static void emit_qdq(struct qctx *q, struct nodelist *l, struct qact *a, const char *prod_name)
{
	char *sn = new_name(q, a->name, "_scale"), *zn = new_name(q, a->name, "_zero_point");
	char *qn = new_name(q, a->name, "_quantized");
	const char *in[3];
	struct quant_entry e = {.kind = QUANT_ACT,
	                        .lo = a->lo,
	                        .hi = a->hi,
	                        .scale = a->scale,
	                        .scale_max = a->scale,
	                        .zero_point = a->zp,
	                        .channels = 1};

	if (!sn || !zn || !qn || !add_init(q, sn, ONNX_DT_FLOAT, 0, NULL, &a->scale) ||
	    !add_init(q, zn, ONNX_DT_INT8, 0, NULL, &a->zp)) {
		no_mem(q);
		goto out;
	}
	in[0] = a->src;
	in[1] = sn;
	in[2] = zn;
	if (!emit(q, l, make_node(q, "QuantizeLinear", qn, in, 3, qn)))
		goto out;
	in[0] = qn;
	if (!emit(q, l, make_node(q, "DequantizeLinear", a->dq, in, 3, a->dq)))
		goto out;
	a->emitted = true;
	q->rep->qdq_pairs++;
	add_entry(q, &e, a->name, prod_name);
out:
	free(sn);
	free(zn);
	free(qn);
}

/* Builds the new node list: weight DequantizeLinear nodes before their
 * product, the Q/DQ pair of each activation after its producer (graph
 * inputs first), readers renamed to the dequantized values. */
static void rebuild(struct qctx *q)
{
	struct nodelist l = {0};

	for (int i = 0; i < q->n_acts && !q->ret; i++)
		if (q->acts[i].producer < 0)
			emit_qdq(q, &l, &q->acts[i], "");
	for (size_t n = 0; n < q->n_nodes && !q->ret; n++) {
		Onnx__NodeProto *node = q->nodes[n];

		if (!node)
			continue;
		if (is_product(q, node))
			quantize_product(q, &l, node);
		for (size_t i = 0; i < node->n_input && !q->ret; i++) {
			const struct qact *a = find_act(q, node->input[i]);

			if (a && !set_str(&node->input[i], a->dq))
				no_mem(q);
		}
		for (size_t o = 0; o < node->n_output && !q->ret; o++) {
			struct qact *a = find_act(q, node->output[o]);

			if (a && !set_str(&node->output[o], a->src))
				no_mem(q);
		}
		if (q->ret || !emit(q, &l, node))
			break;
		q->nodes[n] = NULL;
		for (int i = 0; i < q->n_acts && !q->ret; i++)
			if (q->acts[i].producer == (int)n)
				emit_qdq(q, &l, &q->acts[i], node->name ? node->name : "");
	}
	/* Nodes not moved (after a failure) are freed with the list. */
	for (size_t n = 0; n < q->n_nodes; n++)
		if (q->nodes[n])
			drop_node(q, n);
	free(q->nodes);
	q->nodes = l.v;
	q->n_nodes = l.n;
}

/* --------------------------------------------------------- 5. clean up */

static bool read_anywhere(const struct qctx *q, const char *name)
{
	return readers(q, name) > 0 || is_graph_output(q, name);
}

static bool written(const struct qctx *q, const char *name)
{
	return producer(q, name) >= 0 || is_graph_input(q, name);
}

static void clean_up(struct qctx *q)
{
	Onnx__GraphProto *g = q->g;
	size_t k = 0;

	for (size_t i = 0; i < g->n_initializer; i++) {
		Onnx__TensorProto *t = g->initializer[i];

		if (read_anywhere(q, t->name)) {
			g->initializer[k++] = t;
			continue;
		}
		/* An initializer also listed as a graph input (IR < 4): the
		 * input goes with it. */
		for (size_t j = 0; j < g->n_input; j++) {
			if (strcmp(g->input[j]->name, t->name) == 0) {
				protobuf_c_message_free_unpacked(&g->input[j]->base, NULL);
				memmove(&g->input[j], &g->input[j + 1],
				        (g->n_input - j - 1) * sizeof(*g->input));
				g->n_input--;
				break;
			}
		}
		protobuf_c_message_free_unpacked(&t->base, NULL);
	}
	g->n_initializer = k;
	k = 0;
	for (size_t i = 0; i < g->n_value_info; i++) {
		Onnx__ValueInfoProto *vi = g->value_info[i];

		if (written(q, vi->name))
			g->value_info[k++] = vi;
		else
			protobuf_c_message_free_unpacked(&vi->base, NULL);
	}
	g->n_value_info = k;
}

/* Removes attribute @name of @n, if it has one. */
static void drop_attr(Onnx__NodeProto *n, const char *name)
{
	for (size_t i = 0; i < n->n_attribute; i++) {
		if (strcmp(n->attribute[i]->name, name) != 0)
			continue;
		protobuf_c_message_free_unpacked(&n->attribute[i]->base, NULL);
		n->attribute[i] = n->attribute[--n->n_attribute];
		return;
	}
}

/*
 * Before the opset is raised (raise_opset), rewrites the ops of opsets
 * below 11 whose form changed: Clip's min and max attributes become
 * constant inputs (with the old defaults, the float range), and
 * BatchNormalization's spatial attribute (1: the importer refuses 0),
 * gone from 9, is dropped. Done first, so that a Clip with min 0 fuses
 * like a Relu.
 */
static void modernize_old_ops(struct qctx *q)
{
	if (q->opset >= 11)
		return;
	for (size_t n = 0; n < q->n_nodes && !q->ret; n++) {
		Onnx__NodeProto *node = q->nodes[n];
		const char *base = node->output[0];
		float bound[2] = {attr_f(node, "min", -FLT_MAX), attr_f(node, "max", FLT_MAX)};

		if (is_op(node, "BatchNormalization")) {
			drop_attr(node, "spatial");
			continue;
		}
		if (!is_op(node, "Clip"))
			continue;
		for (int i = 0; i < 2 && !q->ret; i++) {
			struct onnx_tensor *t;
			char *name;

			if (onnx_tensor_create(&t, ONNX_DT_FLOAT, 0, NULL) != SAMPAN_OK) {
				no_mem(q);
				return;
			}
			*(float *)t->data = bound[i];
			name = add_float_const(q, base, i ? "_clip_max" : "_clip_min", t);
			if (!name)
				return;
			if (!set_input(node, 1 + (size_t)i, name))
				no_mem(q);
			free(name);
		}
		drop_attr(node, "min");
		drop_attr(node, "max");
	}
}

/* Raises the default opset to 13 (per-axis DequantizeLinear), checking
 * the ops whose meaning changed: Softmax's axis (before 13, over the 2-D
 * view at axis). */
static void raise_opset(struct qctx *q)
{
	Onnx__ModelProto *mp = q->mp;

	if (q->opset >= 13)
		return;
	for (size_t n = 0; n < q->n_nodes && !q->ret; n++) {
		Onnx__NodeProto *node = q->nodes[n];
		const struct quant_stats *s;
		const char *src;
		int64_t axis;

		if (!is_op(node, "Softmax"))
			continue;
		/* Its input is the dequantized value by now: the original's rank. */
		src = in_name(node, 0);
		for (int i = 0; i < q->n_acts; i++)
			if (strcmp(q->acts[i].dq, src) == 0)
				src = q->acts[i].name;
		s = quant_calib_stats(q->c, model_value(q, src));
		axis = attr_i(node, "axis", 1);
		if (!s || !s->seen) {
			qfail(q, SAMPAN_ERROR_NOT_SUPPORTED,
			      "Softmax '%s': rank of its input unknown, cannot raise opset %lld to "
			      "13",
			      node->name ? node->name : "", (long long)q->opset);
			return;
		}
		if (axis < 0)
			axis += s->ndim;
		if (axis != s->ndim - 1) {
			qfail(q, SAMPAN_ERROR_NOT_SUPPORTED,
			      "Softmax '%s' at opset %lld works on the 2-D view from axis %lld of "
			      "a rank-%d input, which opset 13 (needed for per-channel weights) "
			      "does not express",
			      node->name ? node->name : "", (long long)q->opset, (long long)axis,
			      s->ndim);
			return;
		}
		if (!set_attr_i(node, "axis", -1))
			no_mem(q);
	}
	for (size_t i = 0; i < mp->n_opset_import; i++) {
		Onnx__OperatorSetIdProto *op = mp->opset_import[i];

		if (!op->domain || !op->domain[0] || strcmp(op->domain, "ai.onnx") == 0) {
			op->has_version = 1;
			op->version = 13;
		}
	}
	q->opset = 13;
	if (!mp->has_ir_version || mp->ir_version < 7) {
		mp->has_ir_version = 1;
		mp->ir_version = 7;
	}
}

/* ------------------------------------------------------------------ API */

void quant_report_destroy(struct quant_report *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_entries; i++) {
		free(r->entries[i].tensor);
		free(r->entries[i].node);
	}
	free(r->entries);
	free(r);
}

/* Checks the model is a float one this quantizer handles; finds its
 * default opset. */
static void check_model(struct qctx *q, const char *name)
{
	static const char *const quantized[] = {"QuantizeLinear", "DequantizeLinear",
	                                        "QLinearConv",    "QLinearMatMul",
	                                        "ConvInteger",    "MatMulInteger"};

	q->opset = -1;
	for (size_t i = 0; i < q->mp->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *op = q->mp->opset_import[i];

		if (!op->domain || !op->domain[0] || strcmp(op->domain, "ai.onnx") == 0)
			q->opset = op->version;
	}
	if (q->opset < 0) {
		qfail(q, SAMPAN_ERROR_INVALID, "%s: no opset of the default domain", name);
		return;
	}
	for (size_t n = 0; n < q->g->n_node; n++) {
		for (size_t k = 0; k < sizeof(quantized) / sizeof(quantized[0]); k++) {
			if (is_op(q->g->node[n], quantized[k])) {
				qfail(q, SAMPAN_ERROR_INVALID,
				      "%s: already quantized (node '%s' is %s); sampan quantize "
				      "takes float models",
				      name, q->g->node[n]->name ? q->g->node[n]->name : "",
				      quantized[k]);
				return;
			}
		}
	}
	/* Names the code below compares; the importer checked the rest. */
	for (size_t i = 0; i < q->g->n_input + q->g->n_output + q->g->n_initializer; i++) {
		size_t k = i - q->g->n_input - q->g->n_output;
		const char *nm = i < q->g->n_input ? q->g->input[i]->name
		                 : i < q->g->n_input + q->g->n_output
		                     ? q->g->output[i - q->g->n_input]->name
		                     : q->g->initializer[k]->name;

		if (!nm || !nm[0]) {
			qfail(q, SAMPAN_ERROR_INVALID,
			      "%s: a graph input, output or initializer has no name", name);
			return;
		}
	}
	for (size_t i = 0; i < q->g->n_input; i++) {
		const char *in = q->g->input[i]->name;

		if (model_value(q, in) < 0) {
			qfail(q, SAMPAN_ERROR_INVALID,
			      "%s: graph input '%s' is not in the loaded model (load the same file "
			      "for calibration)",
			      name, in);
			return;
		}
	}
}

/* Counts the products of the result and those the importer folded. */
static int verify(struct qctx *q, const void *buf, size_t len, const char *name)
{
	struct onnx_model *m = NULL;
	char msg[768];
	int ret = onnx_model_load_buffer(buf, len, name, &m, msg, sizeof(msg));

	if (ret)
		return qfail(q, ret, "the quantized model does not load back: %s", msg);
	for (size_t n = 0; n < q->n_nodes; n++)
		q->rep->cores += is_op(q->nodes[n], "Conv") || is_op(q->nodes[n], "Gemm") ||
		                 is_op(q->nodes[n], "MatMul");
	for (int n = 0; n < m->n_nodes; n++)
		q->rep->cores_device += m->nodes[n].folded;
	onnx_model_destroy(m);
	return SAMPAN_OK;
}

int quant_model(const void *data, size_t len, const char *name, const struct onnx_model *m,
                const struct quant_calib *c, const struct quant_options *opt, void **out,
                size_t *out_len, struct quant_report **report, char *err, size_t err_size)
{
	struct qctx q = {.m = m, .c = c, .err = err, .err_size = err_size};
	uint8_t *buf = NULL;
	size_t size = 0;

	if (err_size)
		err[0] = 0;
	q.opt = *opt;
	if (q.opt.method == QUANT_PERCENTILE && !(q.opt.percentile > 0))
		q.opt.percentile = 99.99;
	q.rep = calloc(1, sizeof(*q.rep));
	if (!q.rep)
		return no_mem(&q);
	q.mp = onnx__model_proto__unpack(NULL, len, data);
	if (!q.mp || !q.mp->graph) {
		qfail(&q, SAMPAN_ERROR_INVALID, "%s: not an ONNX model", name);
		goto out;
	}
	q.g = q.mp->graph;
	check_model(&q, name);
	if (q.ret)
		goto out;
	if (!collect_names(&q)) {
		no_mem(&q);
		goto out;
	}
	/* Work on a list of our own; the graph gets it back at the end. */
	q.nodes = q.g->node;
	q.n_nodes = q.g->n_node;
	q.g->node = NULL;
	q.g->n_node = 0;
	modernize_old_ops(&q);
	if (!q.ret)
		fold_batchnorms(&q);
	if (!q.ret)
		fuse_activations(&q);
	if (!q.ret)
		choose_acts(&q);
	if (!q.ret)
		rebuild(&q);
	if (!q.ret)
		raise_opset(&q);
	{
		size_t k = 0;

		/* Compact (removed nodes are NULL) and hand back. */
		for (size_t n = 0; n < q.n_nodes; n++)
			if (q.nodes[n])
				q.nodes[k++] = q.nodes[n];
		q.n_nodes = k;
	}
	if (!q.ret)
		clean_up(&q);
	if (!q.ret && (!set_str(&q.mp->producer_name, "sampan") ||
	               !set_str(&q.mp->producer_version, "quantize")))
		no_mem(&q);
	q.g->node = q.nodes;
	q.g->n_node = q.n_nodes;
	q.nodes = NULL;
	if (q.ret)
		goto out;
	q.rep->opset = q.opset;
	size = onnx__model_proto__get_packed_size(q.mp);
	buf = malloc(size ? size : 1);
	if (!buf) {
		no_mem(&q);
		goto out;
	}
	onnx__model_proto__pack(q.mp, buf);
	q.nodes = q.g->node;
	q.n_nodes = q.g->n_node;
	verify(&q, buf, size, name);
	q.nodes = NULL;
out:
	if (q.nodes) {
		for (size_t n = 0; n < q.n_nodes; n++)
			if (q.nodes[n])
				protobuf_c_message_free_unpacked(&q.nodes[n]->base, NULL);
		free(q.nodes);
	}
	if (q.mp)
		onnx__model_proto__free_unpacked(q.mp, NULL);
	for (int i = 0; i < q.n_consts; i++) {
		free(q.consts[i].name);
		onnx_tensor_destroy(q.consts[i].t);
	}
	free(q.consts);
	for (int i = 0; i < q.n_acts; i++) {
		free(q.acts[i].name);
		free(q.acts[i].src);
		free(q.acts[i].dq);
	}
	free(q.acts);
	for (size_t i = 0; i < q.n_names; i++)
		free(q.names[i]);
	free(q.names);
	if (q.ret) {
		free(buf);
		quant_report_destroy(q.rep);
		return q.ret;
	}
	*out = buf;
	*out_len = size;
	if (report)
		*report = q.rep;
	else
		quant_report_destroy(q.rep);
	return SAMPAN_OK;
}

int quant_write_file(const char *path, const void *data, size_t len, char *err, size_t err_size)
{
	return file_write_atomic(path, data, len, err, err_size);
}
