/*
 * test_quant.c - post-training quantization (host/quant, `sampan
 * quantize`): the calibration methods on known distributions, the
 * parameter rules (activations, per-channel weights, int32 biases), small
 * random models built here (Conv + BatchNorm + Relu + MaxPool + Conv +
 * Clip; Gemm + Relu + MatMul; two Conv branches + Add + pool + Reshape +
 * Gemm + Softmax; an opset 11 model raised to 13) quantized and compared
 * with their float originals, the ONNX node tests
 * of Gemm, MatMul, Conv, Relu, MaxPool, AveragePool, Flatten and Softmax
 * from Debian's libonnx-testdata run through quantization on cpu and sim,
 * bad inputs, and the CLI on the Fashion-MNIST demo model.
 *
 * Tolerances, in units of the output's int8 step s = (max(y, 0) -
 * min(y, 0)) / 255 of the float reference y (what min/max calibration on
 * the same inputs gives the output):
 *  - random models: QUANT_TOL_MODEL steps;
 *  - node tests: QUANT_TOL_NODE steps, on every output element.
 * The reasoning (input, weight and output rounding) is in
 * host/onnx/README.md.
 *
 * SAMPAN_ONNX_TESTDATA overrides the node test directory; random tests
 * print their seed and take SAMPAN_TEST_SEED.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "json.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_model.h"
#include "quant/quant.h"
#include "runtime/runtime.h"
#include "sampan.h"
#include "spawn.h"
#include "util.h"

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))
#define ERR_SIZE 1024

/* Tolerances in output steps (see the top of the file). */
#define QUANT_TOL_MODEL 16.0
#define QUANT_TOL_NODE 2.0

TestSuite(quant_calib, .timeout = 60);
TestSuite(quant_params, .timeout = 60);
TestSuite(quant_model, .timeout = 120);
TestSuite(quant_node, .timeout = 120);
TestSuite(quant_cli, .timeout = 300);

static const char *testdata_dir(void)
{
	const char *dir = getenv("SAMPAN_ONNX_TESTDATA");

	return dir && dir[0] ? dir : "/usr/share/libonnx-testdata/data/node";
}

/* ----------------------------------------------------------------- random */

/* One generator per test process (tests/util.c), seeded per test. */
static struct rng test_rng;

static void seed_rng(const char *what)
{
	rng_init(&test_rng, test_seed(what));
}

static uint64_t rnd(void)
{
	return rng_u64(&test_rng);
}

/* Uniform in [lo, hi). */
static float rndf(float lo, float hi)
{
	return lo + (hi - lo) * (float)((rnd() >> 11) * (1.0 / 9007199254740992.0));
}

/* Roughly normal (sum of 12 uniforms - 6). */
static float rndn(void)
{
	float s = 0;

	for (int i = 0; i < 12; i++)
		s += rndf(0, 1);
	return s - 6;
}

/* --------------------------------------------------------------- devices */

static struct sampan_device *open_dev(const char *name)
{
	struct sampan_device *dev = NULL;
	int ret = sampan_open(&dev, name);

	cr_assert_eq(ret, SAMPAN_OK, "sampan_open(%s): %s", name, sampan_last_error());
	return dev;
}

/* Runs @m on @devname; returns output 0. */
static struct onnx_tensor *run1(const struct onnx_model *m, const char *devname,
                                struct onnx_tensor *const *in)
{
	struct sampan_device *dev = open_dev(devname);
	struct onnx_tensor *out[8] = {0};
	char err[ERR_SIZE];
	int ret;

	cr_assert_leq(m->n_outputs, 8);
	ret = rt_run(m, dev, in, out, NULL, err, sizeof(err));
	cr_assert_eq(ret, SAMPAN_OK, "%s on %s: %s", m->path, devname, err);
	for (int o = 1; o < m->n_outputs; o++)
		onnx_tensor_destroy(out[o]);
	sampan_close(dev);
	return out[0];
}

/* ------------------------------------------------------- model building */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	cr_assert_not_null(d);
	return d;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	cr_assert_not_null(p);
	return p;
}

static void push(void ***arr, size_t *n, void *p)
{
	*arr = realloc(*arr, (*n + 1) * sizeof(void *));
	cr_assert_not_null(*arr);
	(*arr)[(*n)++] = p;
}

static Onnx__ValueInfoProto *value_info(const char *name, int elem, int ndim, const int64_t *dims)
{
	Onnx__ValueInfoProto *vi = xcalloc(1, sizeof(*vi));
	Onnx__TypeProto *tp = xcalloc(1, sizeof(*tp));
	Onnx__TypeProto__Tensor *tt = xcalloc(1, sizeof(*tt));
	Onnx__TensorShapeProto *sh = xcalloc(1, sizeof(*sh));

	onnx__value_info_proto__init(vi);
	onnx__type_proto__init(tp);
	onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(sh);
	vi->name = xstrdup(name);
	vi->type = tp;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	tt->has_elem_type = 1;
	tt->elem_type = elem;
	if (ndim >= 0) {
		tt->shape = sh;
		for (int d = 0; d < ndim; d++) {
			Onnx__TensorShapeProto__Dimension *dim = xcalloc(1, sizeof(*dim));

			onnx__tensor_shape_proto__dimension__init(dim);
			dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			dim->dim_value = dims[d];
			push((void ***)&sh->dim, &sh->n_dim, dim);
		}
	} else {
		free(sh);
	}
	return vi;
}

static Onnx__ModelProto *mb_new(int64_t opset)
{
	Onnx__ModelProto *mp = xcalloc(1, sizeof(*mp));
	Onnx__GraphProto *g = xcalloc(1, sizeof(*g));
	Onnx__OperatorSetIdProto *op = xcalloc(1, sizeof(*op));

	onnx__model_proto__init(mp);
	onnx__graph_proto__init(g);
	onnx__operator_set_id_proto__init(op);
	mp->has_ir_version = 1;
	mp->ir_version = 7;
	op->domain = xstrdup("");
	op->has_version = 1;
	op->version = opset;
	push((void ***)&mp->opset_import, &mp->n_opset_import, op);
	g->name = xstrdup("test");
	mp->graph = g;
	return mp;
}

static void mb_input(Onnx__ModelProto *mp, const char *name, int ndim, const int64_t *dims)
{
	push((void ***)&mp->graph->input, &mp->graph->n_input,
	     value_info(name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims));
}

static void mb_output(Onnx__ModelProto *mp, const char *name)
{
	push((void ***)&mp->graph->output, &mp->graph->n_output,
	     value_info(name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, NULL));
}

/* A float initializer (raw data). */
static void mb_init(Onnx__ModelProto *mp, const char *name, int ndim, const int64_t *dims,
                    const float *data)
{
	Onnx__TensorProto *t = xcalloc(1, sizeof(*t));
	size_t count = 1;

	onnx__tensor_proto__init(t);
	t->name = xstrdup(name);
	t->n_dims = (size_t)ndim;
	t->dims = xcalloc((size_t)ndim, sizeof(*t->dims));
	for (int d = 0; d < ndim; d++) {
		t->dims[d] = dims[d];
		count *= (size_t)dims[d];
	}
	t->has_data_type = 1;
	t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	t->has_raw_data = 1;
	t->raw_data.len = count * sizeof(float);
	t->raw_data.data = xcalloc(count, sizeof(float));
	memcpy(t->raw_data.data, data, count * sizeof(float));
	push((void ***)&mp->graph->initializer, &mp->graph->n_initializer, t);
}

static Onnx__NodeProto *mb_node(Onnx__ModelProto *mp, const char *op, const char *name,
                                const char *const *in, size_t n_in, const char *out)
{
	Onnx__NodeProto *n = xcalloc(1, sizeof(*n));

	onnx__node_proto__init(n);
	n->op_type = xstrdup(op);
	n->name = xstrdup(name);
	for (size_t i = 0; i < n_in; i++)
		push((void ***)&n->input, &n->n_input, xstrdup(in[i]));
	push((void ***)&n->output, &n->n_output, xstrdup(out));
	push((void ***)&mp->graph->node, &mp->graph->n_node, n);
	return n;
}

static Onnx__AttributeProto *mb_attr(Onnx__NodeProto *n, const char *name, int type)
{
	Onnx__AttributeProto *a = xcalloc(1, sizeof(*a));

	onnx__attribute_proto__init(a);
	a->name = xstrdup(name);
	a->has_type = 1;
	a->type = type;
	push((void ***)&n->attribute, &n->n_attribute, a);
	return a;
}

static void mb_attr_i(Onnx__NodeProto *n, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = mb_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

	a->has_i = 1;
	a->i = v;
}

static void mb_attr_f(Onnx__NodeProto *n, const char *name, float v)
{
	Onnx__AttributeProto *a = mb_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

	a->has_f = 1;
	a->f = v;
}

static void mb_attr_ints(Onnx__NodeProto *n, const char *name, size_t k, const int64_t *v)
{
	Onnx__AttributeProto *a = mb_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);

	a->n_ints = k;
	a->ints = xcalloc(k, sizeof(*a->ints));
	memcpy(a->ints, v, k * sizeof(*v));
}

/* Serializes and frees @mp. */
static void *mb_pack(Onnx__ModelProto *mp, size_t *len)
{
	void *buf = xcalloc(1, onnx__model_proto__get_packed_size(mp));

	*len = onnx__model_proto__pack(mp, buf);
	onnx__model_proto__free_unpacked(mp, NULL);
	return buf;
}

static struct onnx_model *load_buf(const void *buf, size_t len, const char *name)
{
	struct onnx_model *m = NULL;
	char err[ERR_SIZE];
	int ret = onnx_model_load_buffer(buf, len, name, &m, err, sizeof(err));

	cr_assert_eq(ret, SAMPAN_OK, "%s", err);
	return m;
}

static struct onnx_tensor *tensor(int ndim, const int64_t *dims)
{
	struct onnx_tensor *t = NULL;

	cr_assert_eq(onnx_tensor_create(&t, ONNX_DT_FLOAT, ndim, dims), SAMPAN_OK);
	return t;
}

static float *rnd_floats(size_t n, float lo, float hi)
{
	float *v = xcalloc(n, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = rndf(lo, hi);
	return v;
}

/* ------------------------------------------------------- quantize helper */

struct quantized {
	struct onnx_model *fm, *qm; /* float, quantized */
	struct quant_report *rep;
	void *buf; /* the quantized model */
	size_t len;
};

/* Calibrates the float model @buf on @n samples (one input each, on
 * @devname) by @method, quantizes it and loads the result. */
static void quantize(const void *buf, size_t len, struct onnx_tensor *const *samples, int n,
                     enum quant_method method, const char *devname, struct quantized *q)
{
	struct quant_options opt = {.method = method};
	struct sampan_device *dev = open_dev(devname);
	struct quant_calib *cal = NULL;
	char err[ERR_SIZE];
	int ret;

	memset(q, 0, sizeof(*q));
	q->fm = load_buf(buf, len, "float.onnx");
	cr_assert_eq(quant_calib_create(q->fm, &cal), SAMPAN_OK);
	ret = quant_calibrate(cal, dev, n, samples, method != QUANT_MINMAX, err, sizeof(err));
	cr_assert_eq(ret, SAMPAN_OK, "calibration: %s", err);
	ret = quant_model(buf, len, "float.onnx", q->fm, cal, &opt, &q->buf, &q->len, &q->rep, err,
	                  sizeof(err));
	cr_assert_eq(ret, SAMPAN_OK, "quantize: %s", err);
	q->qm = load_buf(q->buf, q->len, "quantized.onnx");
	quant_calib_destroy(cal);
	sampan_close(dev);
}

static void quantized_free(struct quantized *q)
{
	onnx_model_destroy(q->fm);
	onnx_model_destroy(q->qm);
	quant_report_destroy(q->rep);
	free(q->buf);
}

/* The int8 step of the range of @y widened to hold 0. */
static double out_step(const struct onnx_tensor *y)
{
	double lo = 0, hi = 0;

	for (size_t i = 0; i < y->count; i++) {
		lo = fmin(lo, ((const float *)y->data)[i]);
		hi = fmax(hi, ((const float *)y->data)[i]);
	}
	return hi > lo ? (hi - lo) / 255 : 1;
}

/* The largest |got - want|, in output steps of @want. */
static double err_steps(const struct onnx_tensor *got, const struct onnx_tensor *want)
{
	double step = out_step(want), worst = 0;

	cr_assert_eq(got->count, want->count);
	for (size_t i = 0; i < want->count; i++) {
		double g = ((const float *)got->data)[i], w = ((const float *)want->data)[i];

		cr_assert(!isnan(g), "element %zu is NaN", i);
		worst = fmax(worst, fabs(g - w) / step);
	}
	return worst;
}

/* How many nodes of @m have op @op. */
static int count_op(const struct onnx_model *m, enum onnx_op op)
{
	int k = 0;

	for (int n = 0; n < m->n_nodes; n++)
		k += m->nodes[n].op == op;
	return k;
}

static const struct quant_entry *entry(const struct quant_report *r, enum quant_entry_kind kind,
                                       const char *tensor_prefix)
{
	for (int i = 0; i < r->n_entries; i++)
		if (r->entries[i].kind == kind &&
		    strncmp(r->entries[i].tensor, tensor_prefix, strlen(tensor_prefix)) == 0)
			return &r->entries[i];
	return NULL;
}

/* =========================================================== calibration */

Test(quant_calib, percentile_of_uniform)
{
	struct quant_hist *h = xcalloc(1, sizeof(*h));
	float v[10000];
	double lo, hi;

	for (int i = 0; i < 10000; i++)
		v[i] = (float)i / 10000.0f; /* [0, 1) */
	quant_hist_init(h, 0, 1);
	quant_hist_add(h, v, 10000, false);
	cr_assert_eq(h->total, 10000);
	quant_hist_percentile(h, 99, &lo, &hi);
	/* 1% at either end: 0.01 and 0.99, within a bin (1/2048). */
	cr_assert(fabs(lo - 0.01) <= 1.0 / 2048 + 1e-9, "lo %g", lo);
	cr_assert(fabs(hi - 0.99) <= 1.0 / 2048 + 1e-9, "hi %g", hi);
	quant_hist_percentile(h, 100, &lo, &hi);
	cr_assert_eq(lo, 0);
	cr_assert_eq(hi, 1);
	free(h);
}

Test(quant_calib, entropy_ignores_outliers)
{
	struct quant_hist *h = xcalloc(1, sizeof(*h));
	size_t n = 200000;
	float *v = xcalloc(n, sizeof(*v));
	double t;

	seed_rng("quant_calib::entropy_ignores_outliers");
	/* Normal(0, 1) and a few values at 100 sigma. */
	for (size_t i = 0; i < n; i++)
		v[i] = i % 20000 == 0 ? 100.0f : rndn();
	quant_hist_init(h, 0, 100);
	quant_hist_add(h, v, n, true);
	t = quant_hist_entropy(h, 128);
	/* Far below the outliers, yet keeping the bulk of the bell. */
	cr_assert(t > 2.0 && t < 20.0, "threshold %g", t);
	free(v);
	free(h);
}

Test(quant_calib, entropy_keeps_uniform_range)
{
	struct quant_hist *h = xcalloc(1, sizeof(*h));
	size_t n = 100000;
	float *v = xcalloc(n, sizeof(*v));
	double t;

	seed_rng("quant_calib::entropy_keeps_uniform_range");
	for (size_t i = 0; i < n; i++)
		v[i] = rndf(-1, 1);
	quant_hist_init(h, 0, 1);
	quant_hist_add(h, v, n, true);
	t = quant_hist_entropy(h, 128);
	/* Nothing to clip: the threshold stays near the end. */
	cr_assert(t > 0.9, "threshold %g", t);
	free(v);
	free(h);
}

Test(quant_calib, methods_on_a_model_value)
{
	int64_t dims[2] = {1, 1000};
	Onnx__ModelProto *mp = mb_new(13);
	const char *in[1] = {"x"};
	struct onnx_tensor *s[4];
	struct quant_calib *cal = NULL;
	struct sampan_device *dev = open_dev("cpu");
	struct onnx_model *m;
	char err[ERR_SIZE];
	size_t len;
	void *buf;
	float lo, hi;
	int y;

	seed_rng("quant_calib::methods_on_a_model_value");
	mb_input(mp, "x", 2, dims);
	mb_output(mp, "y");
	mb_node(mp, "Relu", "relu", in, 1, "y");
	buf = mb_pack(mp, &len);
	m = load_buf(buf, len, "relu.onnx");
	for (int i = 0; i < 4; i++) {
		s[i] = tensor(2, dims);
		for (int k = 0; k < 1000; k++)
			((float *)s[i]->data)[k] = rndf(-2, 3);
	}
	((float *)s[2]->data)[7] = 50; /* one outlier */
	cr_assert_eq(quant_calib_create(m, &cal), SAMPAN_OK);
	/* Without histograms, only min/max answers. */
	cr_assert_eq(quant_calibrate(cal, dev, 4, s, false, err, sizeof(err)), SAMPAN_OK, "%s",
	             err);
	y = m->outputs[0];
	cr_assert(quant_calib_range(cal, y, QUANT_MINMAX, 0, &lo, &hi));
	cr_assert_eq(lo, 0);
	cr_assert_eq(hi, 50);
	cr_assert_not(quant_calib_range(cal, y, QUANT_PERCENTILE, 99.9, &lo, &hi));
	quant_calib_destroy(cal);
	cr_assert_eq(quant_calib_create(m, &cal), SAMPAN_OK);
	cr_assert_eq(quant_calibrate(cal, dev, 4, s, true, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert(quant_calib_range(cal, y, QUANT_PERCENTILE, 99.9, &lo, &hi));
	cr_assert(hi < 3.1 && hi > 2.5, "percentile hi %g", (double)hi);
	cr_assert(quant_calib_range(cal, y, QUANT_ENTROPY, 0, &lo, &hi));
	cr_assert(hi < 10 && lo == 0, "entropy [%g, %g]", (double)lo, (double)hi);
	/* The input is seen too; an unknown value is not. */
	cr_assert(quant_calib_range(cal, m->inputs[0], QUANT_MINMAX, 0, &lo, &hi));
	cr_assert(lo < -1.9f);
	cr_assert_not(quant_calib_range(cal, m->n_values + 5, QUANT_MINMAX, 0, &lo, &hi));
	/* No samples is an error. */
	cr_assert_neq(quant_calibrate(cal, dev, 0, s, false, err, sizeof(err)), SAMPAN_OK);
	cr_assert(strstr(err, "no calibration samples"), "%s", err);
	quant_calib_destroy(cal);
	for (int i = 0; i < 4; i++)
		onnx_tensor_destroy(s[i]);
	onnx_model_destroy(m);
	free(buf);
	sampan_close(dev);
}

/* ============================================================ parameters */

Test(quant_params, activations)
{
	float s;
	int8_t z;

	quant_act_params(0, 6, &s, &z);
	cr_assert_eq(z, -128);
	cr_assert_eq(s, 6.0f / 255.0f);
	/* -128 maps to exactly 0: Relu by saturation. */
	cr_assert_eq((-128 - z) * s, 0.0f);
	quant_act_params(-1, 1, &s, &z);
	cr_assert_float_eq(s, 2.0f / 255.0f, 1e-9);
	cr_assert(z >= -1 && z <= 0, "zero point %d", z);
	/* Widened to hold 0. */
	quant_act_params(2, 5, &s, &z);
	cr_assert_eq(z, -128);
	cr_assert_float_eq(s, 5.0f / 255.0f, 1e-9);
	quant_act_params(-4, -1, &s, &z);
	cr_assert_eq(z, 127);
	/* Empty or broken ranges. */
	/* Only zeros seen (a Relu that never fired): still a floor at 0. */
	quant_act_params(0, 0, &s, &z);
	cr_assert_eq(s, 1.0f);
	cr_assert_eq(z, -128);
	quant_act_params(-INFINITY, 1, &s, &z);
	cr_assert_eq(s, 1.0f);
	/* NaN bounds are ignored (fmin/fmax): [0, 1]. */
	quant_act_params(NAN, 1, &s, &z);
	cr_assert_eq(z, -128);
}

Test(quant_params, per_channel_weights)
{
	int64_t dims[4] = {5, 3, 2, 2};
	float w[60], sc[5];
	int8_t q[60];

	seed_rng("quant_params::per_channel_weights");
	for (int i = 0; i < 60; i++)
		w[i] = rndf(-1, 1) * (float)(1 + i / 12) * (float)(1 + i / 12);
	for (int i = 48; i < 60; i++)
		w[i] = 0; /* channel 4: all zero */
	quant_weights(w, 4, dims, 0, q, sc);
	for (int c = 0; c < 5; c++) {
		float mx = 0;
		bool hit = false;

		for (int i = c * 12; i < c * 12 + 12; i++)
			mx = fmaxf(mx, fabsf(w[i]));
		cr_assert_eq(sc[c], c == 4 ? 1.0f : mx / 127.0f, "channel %d scale %g", c,
		             (double)sc[c]);
		for (int i = c * 12; i < c * 12 + 12; i++) {
			cr_assert(q[i] >= -127 && q[i] <= 127);
			cr_assert(fabsf(q[i] * sc[c] - w[i]) <= sc[c] * 0.5f * 1.0001f,
			          "element %d: %d * %g vs %g", i, q[i], (double)sc[c],
			          (double)w[i]);
			hit |= q[i] == 127 || q[i] == -127;
		}
		cr_assert(c == 4 || hit, "channel %d: the largest weight maps to +-127", c);
	}
	/* Axis 1 of a (K, N) matrix: one scale per column. */
	{
		int64_t d2[2] = {3, 2};
		float m[6] = {1, -8, -2, 4, 0.5f, 2}, s2[2];
		int8_t q2[6];

		quant_weights(m, 2, d2, 1, q2, s2);
		cr_assert_eq(s2[0], 2.0f / 127.0f);
		cr_assert_eq(s2[1], 8.0f / 127.0f);
		cr_assert_eq(q2[1], -127);
		cr_assert_eq(q2[2], -127);
	}
}

Test(quant_params, bias_rule)
{
	float sx = 0.0123f, sw = 0.00071f;
	int32_t q;

	cr_assert_not(quant_bias(1.5f, sx, sw, &q));
	/* The scale is the float product, as the importer compares it. */
	cr_assert_eq(q, (int32_t)rint(1.5 / (double)(float)(sx * sw)));
	cr_assert_not(quant_bias(-0.25f, sx, sw, &q));
	cr_assert_eq(q, (int32_t)rint(-0.25 / (double)(float)(sx * sw)));
	cr_assert(quant_bias(1e9f, 1e-6f, 1e-6f, &q));
	cr_assert_eq(q, INT32_MAX);
	cr_assert(quant_bias(-1e9f, 1e-6f, 1e-6f, &q));
	cr_assert_eq(q, INT32_MIN);
}

/* ========================================================= random models */

/* Conv (bias or not) -> BatchNormalization -> Relu -> MaxPool -> Conv ->
 * Clip(0, 6) -> output, input (1, 3, 9, 9). */
static void *conv_bn_model(size_t *len, bool conv_bias)
{
	Onnx__ModelProto *mp = mb_new(13);
	int64_t xd[4] = {1, 3, 9, 9}, wd[4] = {6, 3, 3, 3}, w2d[4] = {4, 6, 3, 3}, cd[1] = {6};
	int64_t c2[1] = {4}, k2[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
	float *w = rnd_floats(162, -0.5f, 0.5f), *b = rnd_floats(6, -0.3f, 0.3f);
	float *g = rnd_floats(6, 0.5f, 1.5f), *be = rnd_floats(6, -0.5f, 0.5f);
	float *mu = rnd_floats(6, -0.2f, 0.2f), *var = rnd_floats(6, 0.5f, 1.5f);
	float *w2 = rnd_floats(216, -0.3f, 0.3f), *b2 = rnd_floats(4, -0.1f, 0.1f);
	float zero = 0, six = 6;
	const char *conv_in[3] = {"x", "w", "b"}, *bn_in[5] = {"c1", "g", "be", "mu", "var"};
	const char *relu_in[1] = {"bn"}, *pool_in[1] = {"r"}, *c2_in[3] = {"p", "w2", "b2"};
	const char *clip_in[3] = {"c2", "zero", "six"};
	Onnx__NodeProto *n;

	mb_input(mp, "x", 4, xd);
	mb_output(mp, "y");
	mb_init(mp, "w", 4, wd, w);
	if (conv_bias)
		mb_init(mp, "b", 1, cd, b);
	mb_init(mp, "g", 1, cd, g);
	mb_init(mp, "be", 1, cd, be);
	mb_init(mp, "mu", 1, cd, mu);
	mb_init(mp, "var", 1, cd, var);
	mb_init(mp, "w2", 4, w2d, w2);
	mb_init(mp, "b2", 1, c2, b2);
	mb_init(mp, "zero", 0, NULL, &zero);
	mb_init(mp, "six", 0, NULL, &six);
	n = mb_node(mp, "Conv", "conv1", conv_in, conv_bias ? 3 : 2, "c1");
	mb_attr_ints(n, "pads", 4, pads);
	n = mb_node(mp, "BatchNormalization", "bn", bn_in, 5, "bn");
	mb_attr_f(n, "epsilon", 1e-3f);
	mb_node(mp, "Relu", "relu", relu_in, 1, "r");
	n = mb_node(mp, "MaxPool", "pool", pool_in, 1, "p");
	mb_attr_ints(n, "kernel_shape", 2, k2);
	mb_attr_ints(n, "strides", 2, k2);
	mb_node(mp, "Conv", "conv2", c2_in, 3, "c2");
	mb_node(mp, "Clip", "clip", clip_in, 3, "y");
	free(w);
	free(b);
	free(g);
	free(be);
	free(mu);
	free(var);
	free(w2);
	free(b2);
	return mb_pack(mp, len);
}

/* Checks that @q's products all run on the device and its output is
 * within QUANT_TOL_MODEL steps of the float model's on @n inputs, on
 * @devname; the step is the output's over all @n (what min/max
 * calibration on them gives). Returns the worst error in steps. */
static double compare_models(const struct quantized *q, struct onnx_tensor *const *in, int n,
                             const char *devname)
{
	struct onnx_tensor *want[16];
	double worst = 0, lo = 0, hi = 0, step;

	cr_assert_leq(n, 16);
	cr_assert_gt(q->rep->cores, 0);
	cr_assert_eq(q->rep->cores_device, q->rep->cores, "%d of %d products folded",
	             q->rep->cores_device, q->rep->cores);
	cr_assert_eq(count_op(q->qm, ONNX_OP_CONV) + count_op(q->qm, ONNX_OP_GEMM) +
	                 count_op(q->qm, ONNX_OP_MATMUL),
	             0, "a float product is left");
	for (int i = 0; i < n; i++) {
		want[i] = run1(q->fm, "cpu", &in[i]);
		for (size_t k = 0; k < want[i]->count; k++) {
			lo = fmin(lo, ((const float *)want[i]->data)[k]);
			hi = fmax(hi, ((const float *)want[i]->data)[k]);
		}
	}
	step = hi > lo ? (hi - lo) / 255 : 1;
	for (int i = 0; i < n; i++) {
		struct onnx_tensor *got = run1(q->qm, devname, &in[i]);
		double e = 0;

		cr_assert_eq(got->count, want[i]->count);
		for (size_t k = 0; k < got->count; k++)
			e = fmax(e, fabs((double)((const float *)got->data)[k] -
			                 ((const float *)want[i]->data)[k]) /
			                step);
		cr_assert(e <= QUANT_TOL_MODEL, "input %d on %s: error %.3f steps", i, devname, e);
		worst = fmax(worst, e);
		onnx_tensor_destroy(want[i]);
		onnx_tensor_destroy(got);
	}
	return worst;
}

static void conv_bn_case(bool conv_bias, const char *devname)
{
	int64_t xd[4] = {1, 3, 9, 9};
	struct onnx_tensor *in[6];
	struct quantized q;
	const struct quant_entry *e;
	size_t len;
	void *buf = conv_bn_model(&len, conv_bias);
	double worst;

	for (int i = 0; i < 6; i++) {
		in[i] = tensor(4, xd);
		for (int k = 0; k < 243; k++)
			((float *)in[i]->data)[k] = rndf(-1, 1);
	}
	quantize(buf, len, in, 6, QUANT_MINMAX, "cpu", &q);
	cr_assert_eq(q.rep->bn_folded, 1);
	cr_assert_eq(q.rep->act_fused, 2, "Relu and Clip(0, 6) fused");
	cr_assert_eq(count_op(q.qm, ONNX_OP_BATCHNORM), 0);
	cr_assert_eq(count_op(q.qm, ONNX_OP_RELU), 0);
	cr_assert_eq(count_op(q.qm, ONNX_OP_CLIP), 0);
	cr_assert_eq(count_op(q.qm, ONNX_OP_QLINEARCONV), 2);
	cr_assert_eq(q.rep->opset, 13);
	/* Per-channel weights and biases; fused outputs start at 0. */
	e = entry(q.rep, QUANT_WEIGHT, "w");
	cr_assert_not_null(e);
	cr_assert_eq(e->channels, 6);
	e = entry(q.rep, QUANT_BIAS, conv_bias ? "b" : "conv1");
	cr_assert_not_null(e);
	cr_assert_eq(e->channels, 6);
	cr_assert_not(e->saturated);
	e = entry(q.rep, QUANT_ACT, "r");
	cr_assert_not_null(e);
	cr_assert_eq(e->zero_point, -128);
	cr_assert_eq(e->lo, 0);
	e = entry(q.rep, QUANT_ACT, "y");
	cr_assert_not_null(e);
	cr_assert_eq(e->zero_point, -128);
	cr_assert_leq(e->hi, 6.0f);
	/* MaxPool passes its input's parameters on. */
	cr_assert_eq(entry(q.rep, QUANT_ACT, "p")->scale, entry(q.rep, QUANT_ACT, "r")->scale);
	worst = compare_models(&q, in, 6, devname);
	cr_log_info("conv_bn(bias %d) on %s: worst error %.3f steps", conv_bias, devname, worst);
	for (int i = 0; i < 6; i++)
		onnx_tensor_destroy(in[i]);
	quantized_free(&q);
	free(buf);
}

Test(quant_model, conv_bn_relu_clip_cpu)
{
	seed_rng("quant_model::conv_bn_relu_clip_cpu");
	conv_bn_case(true, "cpu");
	conv_bn_case(false, "cpu");
}

Test(quant_model, conv_bn_relu_clip_sim)
{
	seed_rng("quant_model::conv_bn_relu_clip_sim");
	conv_bn_case(false, "sim");
}

/* Gemm (alpha, beta, transB) -> Relu -> MatMul -> output (graph output of
 * a product), input (2, 20). */
Test(quant_model, gemm_matmul)
{
	Onnx__ModelProto *mp = mb_new(13);
	int64_t xd[2] = {2, 20}, wd[2] = {12, 20}, bd[2] = {1, 12}, md[2] = {12, 5};
	const char *g_in[3] = {"x", "w", "b"}, *r_in[1] = {"h"}, *m_in[2] = {"r", "m"};
	struct onnx_tensor *in[5];
	struct quantized q;
	Onnx__NodeProto *n;
	float *w, *b, *m;
	size_t len;
	void *buf;
	double worst;

	seed_rng("quant_model::gemm_matmul");
	w = rnd_floats(240, -1, 1);
	b = rnd_floats(12, -1, 1);
	m = rnd_floats(60, -1, 1);
	mb_input(mp, "x", 2, xd);
	mb_output(mp, "y");
	mb_init(mp, "w", 2, wd, w);
	mb_init(mp, "b", 2, bd, b);
	mb_init(mp, "m", 2, md, m);
	n = mb_node(mp, "Gemm", "gemm", g_in, 3, "h");
	mb_attr_i(n, "transB", 1);
	mb_attr_f(n, "alpha", 0.5f);
	mb_attr_f(n, "beta", 2.0f);
	mb_node(mp, "Relu", "relu", r_in, 1, "r");
	mb_node(mp, "MatMul", "matmul", m_in, 2, "y");
	buf = mb_pack(mp, &len);
	for (int i = 0; i < 5; i++) {
		in[i] = tensor(2, xd);
		for (int k = 0; k < 40; k++)
			((float *)in[i]->data)[k] = rndf(-2, 2);
	}
	quantize(buf, len, in, 5, QUANT_MINMAX, "cpu", &q);
	cr_assert_eq(q.rep->act_fused, 1);
	cr_assert_eq(count_op(q.qm, ONNX_OP_QLINEARMATMUL), 2);
	cr_assert_eq(entry(q.rep, QUANT_WEIGHT, "w")->channels, 12);
	cr_assert_eq(entry(q.rep, QUANT_WEIGHT, "m")->channels, 5);
	/* The graph output keeps its name and stays float. */
	cr_assert_str_eq(q.qm->values[q.qm->outputs[0]].name, "y");
	worst = compare_models(&q, in, 5, "cpu");
	cr_log_info("gemm_matmul: worst error %.3f steps", worst);
	/* cpu and sim agree bit for bit. */
	for (int i = 0; i < 2; i++) {
		struct onnx_tensor *a = run1(q.qm, "cpu", &in[i]), *s = run1(q.qm, "sim", &in[i]);

		cr_assert_eq(memcmp(a->data, s->data, a->count * sizeof(float)), 0);
		onnx_tensor_destroy(a);
		onnx_tensor_destroy(s);
	}
	for (int i = 0; i < 5; i++)
		onnx_tensor_destroy(in[i]);
	quantized_free(&q);
	free(buf);
	free(w);
	free(b);
	free(m);
}

/* The result is an ordinary QDQ model: its bias scales are x_scale *
 * w_scale[c] bit for bit (which the importer's folding requires) and it
 * quantizes nothing twice. */
Test(quant_model, qdq_structure)
{
	int64_t xd[4] = {1, 3, 9, 9};
	struct onnx_tensor *in[2];
	struct quantized q;
	Onnx__ModelProto *mp;
	size_t len;
	void *buf;
	int q_nodes = 0, dq_nodes = 0;

	seed_rng("quant_model::qdq_structure");
	buf = conv_bn_model(&len, true);
	for (int i = 0; i < 2; i++) {
		in[i] = tensor(4, xd);
		for (int k = 0; k < 243; k++)
			((float *)in[i]->data)[k] = rndf(0, 1);
	}
	quantize(buf, len, in, 2, QUANT_PERCENTILE, "cpu", &q);
	mp = onnx__model_proto__unpack(NULL, q.len, q.buf);
	cr_assert_not_null(mp);
	cr_assert_str_eq(mp->producer_name, "sampan");
	for (size_t n = 0; n < mp->graph->n_node; n++) {
		const Onnx__NodeProto *node = mp->graph->node[n];

		q_nodes += strcmp(node->op_type, "QuantizeLinear") == 0;
		dq_nodes += strcmp(node->op_type, "DequantizeLinear") == 0;
		cr_assert(strcmp(node->op_type, "BatchNormalization") != 0);
	}
	cr_assert_eq(q_nodes, q.rep->qdq_pairs);
	/* One DequantizeLinear per activation, weight and bias. */
	cr_assert_eq(dq_nodes, q.rep->qdq_pairs + 4);
	/* No float weights are left behind. */
	for (size_t i = 0; i < mp->graph->n_initializer; i++) {
		const Onnx__TensorProto *t = mp->graph->initializer[i];

		cr_assert(strcmp(t->name, "w") != 0 && strcmp(t->name, "g") != 0,
		          "initializer %s is left", t->name);
	}
	onnx__model_proto__free_unpacked(mp, NULL);
	/* The importer folded the biases: they passed its exact scale check. */
	cr_assert_eq(q.rep->cores_device, 2);
	for (int i = 0; i < 2; i++)
		onnx_tensor_destroy(in[i]);
	quantized_free(&q);
	free(buf);
}

/* Host ops between the products: two Conv branches -> Add ->
 * GlobalAveragePool -> Reshape -> Gemm -> Softmax (its output stays
 * float), input (1, 4, 8, 8). Every float input of Add, the pool and
 * Reshape is int8; the products run on the device. */
Test(quant_model, branches_and_host_ops)
{
	Onnx__ModelProto *mp = mb_new(13);
	int64_t xd[4] = {1, 4, 8, 8}, wd[4] = {6, 4, 3, 3}, w1d[4] = {6, 4, 1, 1};
	int64_t gd[2] = {3, 6}, pads[4] = {1, 1, 1, 1}, shape[2] = {1, 6};
	const char *ca[2] = {"x", "wa"}, *cb[2] = {"x", "wb"}, *ad[2] = {"a", "b"};
	const char *gp[1] = {"s"}, *rs[2] = {"g", "shape"}, *gm[2] = {"r", "wg"}, *sm[1] = {"l"};
	struct onnx_tensor *in[6];
	struct quantized q;
	Onnx__NodeProto *n;
	Onnx__TensorProto *t;
	float *wa, *wb, *wg;
	size_t len;
	void *buf;
	double worst;

	seed_rng("quant_model::branches_and_host_ops");
	wa = rnd_floats(216, -0.4f, 0.4f);
	wb = rnd_floats(24, -1, 1);
	wg = rnd_floats(18, -2, 2);
	mb_input(mp, "x", 4, xd);
	mb_output(mp, "y");
	mb_init(mp, "wa", 4, wd, wa);
	mb_init(mp, "wb", 4, w1d, wb);
	mb_init(mp, "wg", 2, gd, wg);
	/* Reshape's shape is int64: built by hand. */
	t = xcalloc(1, sizeof(*t));
	onnx__tensor_proto__init(t);
	t->name = xstrdup("shape");
	t->n_dims = 1;
	t->dims = xcalloc(1, sizeof(*t->dims));
	t->dims[0] = 2;
	t->has_data_type = 1;
	t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
	t->n_int64_data = 2;
	t->int64_data = xcalloc(2, sizeof(int64_t));
	memcpy(t->int64_data, shape, sizeof(shape));
	push((void ***)&mp->graph->initializer, &mp->graph->n_initializer, t);
	n = mb_node(mp, "Conv", "conv_a", ca, 2, "a");
	mb_attr_ints(n, "pads", 4, pads);
	mb_node(mp, "Conv", "conv_b", cb, 2, "b");
	mb_node(mp, "Add", "add", ad, 2, "s");
	mb_node(mp, "GlobalAveragePool", "gap", gp, 1, "g");
	mb_node(mp, "Reshape", "reshape", rs, 2, "r");
	n = mb_node(mp, "Gemm", "gemm", gm, 2, "l");
	mb_attr_i(n, "transB", 1);
	mb_node(mp, "Softmax", "softmax", sm, 1, "y");
	buf = mb_pack(mp, &len);
	for (int i = 0; i < 6; i++) {
		in[i] = tensor(4, xd);
		for (int k = 0; k < 256; k++)
			((float *)in[i]->data)[k] = rndf(-1, 1);
	}
	quantize(buf, len, in, 6, QUANT_MINMAX, "cpu", &q);
	cr_assert_eq(count_op(q.qm, ONNX_OP_QLINEARCONV), 2);
	cr_assert_eq(count_op(q.qm, ONNX_OP_QLINEARMATMUL), 1);
	/* x, a, b, s, g, r, l: no pair on Softmax's float output. */
	cr_assert_eq(q.rep->qdq_pairs, 7);
	cr_assert_null(entry(q.rep, QUANT_ACT, "y"));
	/* Reshape hands its input's parameters on. */
	cr_assert_eq(entry(q.rep, QUANT_ACT, "r")->scale, entry(q.rep, QUANT_ACT, "g")->scale);
	worst = compare_models(&q, in, 6, "sim");
	cr_log_info("branches_and_host_ops: worst error %.3f steps", worst);
	for (int i = 0; i < 6; i++)
		onnx_tensor_destroy(in[i]);
	quantized_free(&q);
	free(buf);
	free(wa);
	free(wb);
	free(wg);
}

/* An opset 11 model, MatMul -> Softmax with an input of rank @ndim,
 * quantized (raised to opset 13); on success checked against the float
 * model. Returns quant_model's code. */
static int softmax_case(int ndim, char *err, size_t err_size, struct quantized *out)
{
	Onnx__ModelProto *mp = mb_new(11);
	int64_t d2[2] = {2, 4}, d3[3] = {2, 3, 4}, wd[2] = {4, 4};
	const int64_t *xd = ndim == 2 ? d2 : d3;
	const char *mm[2] = {"x", "w"}, *sm[1] = {"h"};
	struct sampan_device *dev = open_dev("cpu");
	struct quant_options opt = {.method = QUANT_MINMAX};
	struct quant_calib *cal = NULL;
	struct onnx_tensor *x;
	float *w = rnd_floats(16, -1, 1);
	size_t len;
	void *buf;
	int ret;

	mb_input(mp, "x", ndim, xd);
	mb_output(mp, "y");
	mb_init(mp, "w", 2, wd, w);
	mb_node(mp, "MatMul", "mm", mm, 2, "h");
	mb_node(mp, "Softmax", "sm", sm, 1, "y");
	buf = mb_pack(mp, &len);
	memset(out, 0, sizeof(*out));
	out->fm = load_buf(buf, len, "softmax11.onnx");
	x = tensor(ndim, xd);
	for (size_t k = 0; k < x->count; k++)
		((float *)x->data)[k] = rndf(-1, 1);
	cr_assert_eq(quant_calib_create(out->fm, &cal), SAMPAN_OK);
	cr_assert_eq(quant_calibrate(cal, dev, 1, &x, false, err, err_size), SAMPAN_OK, "%s", err);
	ret = quant_model(buf, len, "softmax11.onnx", out->fm, cal, &opt, &out->buf, &out->len,
	                  &out->rep, err, err_size);
	if (ret == SAMPAN_OK) {
		struct onnx_tensor *a, *b;

		out->qm = load_buf(out->buf, out->len, "q.onnx");
		cr_assert_eq(out->qm->opset, 13);
		a = run1(out->fm, "cpu", &x);
		b = run1(out->qm, "cpu", &x);
		cr_assert_leq(err_steps(b, a), QUANT_TOL_MODEL);
		onnx_tensor_destroy(a);
		onnx_tensor_destroy(b);
	}
	quant_calib_destroy(cal);
	onnx_tensor_destroy(x);
	sampan_close(dev);
	free(buf);
	free(w);
	return ret;
}

/* Per-axis DequantizeLinear needs opset 13: a Softmax over the last axis
 * keeps its meaning there; one over the 2-D view of a 3-D input (opset 11)
 * is refused, saying why. */
Test(quant_model, opset_raised_to_13)
{
	char err[ERR_SIZE];
	struct quantized q;

	seed_rng("quant_model::opset_raised_to_13");
	cr_assert_eq(softmax_case(2, err, sizeof(err), &q), SAMPAN_OK, "%s", err);
	cr_assert_eq(q.rep->opset, 13);
	quantized_free(&q);
	cr_assert_eq(softmax_case(3, err, sizeof(err), &q), SAMPAN_ERROR_NOT_SUPPORTED);
	cr_assert(strstr(err, "Softmax 'sm'") && strstr(err, "opset 13"), "%s", err);
	quantized_free(&q);
}

/* ============================================================ bad models */

Test(quant_model, refusals)
{
	int64_t xd[2] = {1, 4};
	Onnx__ModelProto *mp = mb_new(13);
	const char *in[1] = {"x"};
	struct onnx_tensor *s = tensor(2, xd);
	struct sampan_device *dev = open_dev("cpu");
	struct quant_options opt = {.method = QUANT_MINMAX};
	struct quant_calib *cal = NULL;
	struct onnx_model *m, *other;
	char err[ERR_SIZE], path[1024];
	void *buf, *out = NULL, *qbuf;
	size_t len, out_len, qlen;
	FILE *f;

	mb_input(mp, "x", 2, xd);
	mb_output(mp, "y");
	mb_node(mp, "Relu", "relu", in, 1, "y");
	buf = mb_pack(mp, &len);
	m = load_buf(buf, len, "relu.onnx");
	cr_assert_eq(quant_calib_create(m, &cal), SAMPAN_OK);
	cr_assert_eq(quant_calibrate(cal, dev, 1, &s, false, err, sizeof(err)), SAMPAN_OK);
	/* Not a model. */
	cr_assert_neq(quant_model("garbage!", 8, "g.onnx", m, cal, &opt, &out, &out_len, NULL, err,
	                          sizeof(err)),
	              SAMPAN_OK);
	cr_assert(strstr(err, "g.onnx"), "%s", err);
	cr_assert_null(out);
	/* Already quantized: the QLinearConv node test. */
	snprintf(path, sizeof(path), "%s/test_qlinearconv/model.onnx", testdata_dir());
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	qbuf = xcalloc(1, 1 << 16);
	qlen = fread(qbuf, 1, 1 << 16, f);
	fclose(f);
	other = load_buf(qbuf, qlen, path);
	cr_assert_neq(
	    quant_model(qbuf, qlen, path, m, cal, &opt, &out, &out_len, NULL, err, sizeof(err)),
	    SAMPAN_OK);
	cr_assert(strstr(err, "already quantized"), "%s", err);
	/* Calibration that does not fit the model's input. */
	{
		int64_t bad[2] = {1, 5};
		struct onnx_tensor *b = tensor(2, bad);

		cr_assert_neq(quant_calibrate(cal, dev, 1, &b, false, err, sizeof(err)), SAMPAN_OK);
		cr_assert(strstr(err, "calibration sample 0"), "%s", err);
		onnx_tensor_destroy(b);
	}
	/* A file that cannot be written: nothing is left behind. */
	cr_assert_neq(quant_write_file("/nonexistent-dir/x.onnx", buf, len, err, sizeof(err)),
	              SAMPAN_OK);
	cr_assert(strstr(err, "/nonexistent-dir/x.onnx"), "%s", err);
	onnx_model_destroy(other);
	free(qbuf);
	quant_calib_destroy(cal);
	onnx_model_destroy(m);
	onnx_tensor_destroy(s);
	free(buf);
	sampan_close(dev);
}

/* ======================================================= node tests */

struct node_param {
	char test[64];
	char dev[8];
};

static const char *const node_tests[] = {
    "test_gemm_all_attributes",
    "test_gemm_alpha",
    "test_gemm_beta",
    "test_gemm_default_matrix_bias",
    "test_gemm_default_no_bias",
    "test_gemm_default_scalar_bias",
    "test_gemm_default_single_elem_vector_bias",
    "test_gemm_default_vector_bias",
    "test_gemm_default_zero_bias",
    "test_gemm_transposeA",
    "test_gemm_transposeB",
    "test_matmul_2d",
    "test_matmul_3d",
    "test_matmul_4d",
    "test_conv_with_autopad_same",
    "test_conv_with_strides_and_asymmetric_padding",
    "test_conv_with_strides_no_padding",
    "test_conv_with_strides_padding",
    "test_relu",
    "test_maxpool_2d_ceil",
    "test_maxpool_2d_default",
    "test_maxpool_2d_dilations",
    "test_maxpool_2d_pads",
    "test_maxpool_2d_precomputed_pads",
    "test_maxpool_2d_precomputed_same_upper",
    "test_maxpool_2d_precomputed_strides",
    "test_maxpool_2d_same_lower",
    "test_maxpool_2d_same_upper",
    "test_maxpool_2d_strides",
    "test_averagepool_2d_ceil",
    "test_averagepool_2d_default",
    "test_averagepool_2d_pads",
    "test_averagepool_2d_pads_count_include_pad",
    "test_averagepool_2d_precomputed_pads",
    "test_averagepool_2d_precomputed_pads_count_include_pad",
    "test_averagepool_2d_precomputed_same_upper",
    "test_averagepool_2d_precomputed_strides",
    "test_averagepool_2d_same_lower",
    "test_averagepool_2d_same_upper",
    "test_averagepool_2d_strides",
    "test_flatten_axis0",
    "test_flatten_axis1",
    "test_flatten_axis2",
    "test_flatten_axis3",
    "test_flatten_default_axis",
    "test_flatten_negative_axis1",
    "test_flatten_negative_axis2",
    "test_flatten_negative_axis3",
    "test_flatten_negative_axis4",
    "test_softmax_axis_0",
    "test_softmax_axis_1",
    "test_softmax_axis_2",
    "test_softmax_default_axis",
    "test_softmax_example",
    "test_softmax_large_number",
    "test_softmax_negative_axis",
};

ParameterizedTestParameters(quant_node, through_quantization)
{
	static struct node_param params[COUNT(node_tests) * 2];
	size_t n = 0;

	for (size_t t = 0; t < COUNT(node_tests); t++)
		for (int d = 0; d < 2; d++, n++) {
			snprintf(params[n].test, sizeof(params[n].test), "%s", node_tests[t]);
			snprintf(params[n].dev, sizeof(params[n].dev), "%s", d ? "sim" : "cpu");
		}
	return cr_make_param_array(struct node_param, params, n);
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xcalloc((size_t)n + 1, 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The node test's model with graph inputs 1.. (a product's weights and
 * bias) turned into initializers holding test_data_set_0's values, as a
 * deployed model has them; other ops keep their inputs. */
static void *freeze_weights(const char *dir, bool product, size_t *len)
{
	char path[1200];
	size_t mlen;
	void *data;
	Onnx__ModelProto *mp;

	snprintf(path, sizeof(path), "%s/model.onnx", dir);
	data = read_file(path, &mlen);
	mp = onnx__model_proto__unpack(NULL, mlen, data);
	cr_assert_not_null(mp, "%s", path);
	free(data);
	while (product && mp->graph->n_input > 1) {
		size_t i = mp->graph->n_input - 1, tlen;
		Onnx__TensorProto *t;
		void *tdata;

		snprintf(path, sizeof(path), "%s/test_data_set_0/input_%zu.pb", dir, i);
		tdata = read_file(path, &tlen);
		t = onnx__tensor_proto__unpack(NULL, tlen, tdata);
		cr_assert_not_null(t, "%s", path);
		free(tdata);
		free(t->name);
		t->name = xstrdup(mp->graph->input[i]->name);
		push((void ***)&mp->graph->initializer, &mp->graph->n_initializer, t);
		onnx__value_info_proto__free_unpacked(mp->graph->input[i], NULL);
		mp->graph->n_input--;
	}
	return mb_pack(mp, len);
}

ParameterizedTest(struct node_param *p, quant_node, through_quantization)
{
	char dir[1024], path[1200], err[ERR_SIZE];
	bool product = strncmp(p->test, "test_gemm", 9) == 0 ||
	               strncmp(p->test, "test_matmul", 11) == 0 ||
	               strncmp(p->test, "test_conv", 9) == 0;
	struct onnx_tensor *x, *want, *got;
	struct quantized q;
	size_t len;
	void *buf;
	double e;

	snprintf(dir, sizeof(dir), "%.900s/%s", testdata_dir(), p->test);
	buf = freeze_weights(dir, product, &len);
	snprintf(path, sizeof(path), "%s/test_data_set_0/input_0.pb", dir);
	cr_assert_eq(onnx_tensor_read_pb(path, &x, NULL, err, sizeof(err)), SAMPAN_OK, "%s", err);
	snprintf(path, sizeof(path), "%s/test_data_set_0/output_0.pb", dir);
	cr_assert_eq(onnx_tensor_read_pb(path, &want, NULL, err, sizeof(err)), SAMPAN_OK, "%s",
	             err);
	/* Calibrated on the test's own input, min/max: its range is exact. */
	quantize(buf, len, &x, 1, QUANT_MINMAX, "cpu", &q);
	cr_assert_gt(q.rep->qdq_pairs, 0, "%s: nothing quantized", p->test);
	if (product) {
		/* Every product the importer can fold runs on the device:
		 * not a transposed A or a matrix bias (left as float Gemm on
		 * int8 values), nor batched weights of MatMul (3-D, 4-D). */
		bool foldable = !strstr(p->test, "transposeA") &&
		                !strstr(p->test, "all_attributes") &&
		                !strstr(p->test, "matrix_bias") && !strstr(p->test, "matmul_3d") &&
		                !strstr(p->test, "matmul_4d");

		cr_assert_eq(q.rep->cores_device, foldable ? 1 : 0, "%s: %d products on the device",
		             p->test, q.rep->cores_device);
	}
	if (strcmp(p->test, "test_softmax_large_number") == 0) {
		/* Its rows lie 10^4 apart: one int8 scale for the tensor
		 * cannot hold both (a limit of per-tensor activations), so
		 * the reference is the float op on the int8 input. */
		const struct quant_entry *ex =
		    entry(q.rep, QUANT_ACT, q.fm->values[q.fm->inputs[0]].name);
		struct onnx_tensor *xq;

		cr_assert_not_null(ex);
		xq = tensor(x->ndim, x->dims);
		for (size_t i = 0; i < x->count; i++) {
			float v = rintf(((float *)x->data)[i] / ex->scale) + (float)ex->zero_point;

			v = fminf(fmaxf(v, -128), 127);
			((float *)xq->data)[i] = (v - (float)ex->zero_point) * ex->scale;
		}
		onnx_tensor_destroy(want);
		want = run1(q.fm, "cpu", &xq);
		onnx_tensor_destroy(xq);
		got = run1(q.qm, p->dev, &x);
		for (size_t i = 0; i < want->count; i++) {
			double g = ((float *)got->data)[i], w = ((float *)want->data)[i];

			cr_assert(fabs(g - w) <= 1e-5 * (fabs(w) + 1),
			          "%s: element %zu is %g, expected %g", p->test, i, g, w);
		}
		goto out;
	}
	got = run1(q.qm, p->dev, &x);
	cr_assert_eq(got->ndim, want->ndim);
	for (int d = 0; d < want->ndim; d++)
		cr_assert_eq(got->dims[d], want->dims[d]);
	e = err_steps(got, want);
	cr_log_info("%s on %s: worst error %.3f output steps", p->test, p->dev, e);
	cr_assert(e <= QUANT_TOL_NODE, "%s on %s: error %.3f output steps > %g", p->test, p->dev, e,
	          QUANT_TOL_NODE);
out:
	onnx_tensor_destroy(got);
	onnx_tensor_destroy(x);
	onnx_tensor_destroy(want);
	quantized_free(&q);
	free(buf);
}

/* ================================================================== CLI */

static int run_cli(const char *const *args, struct spawn_result *res)
{
	char *argv[32];
	int n = 0;

	argv[n++] = (char *)SAMPAN_CLI;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	return spawn_run(argv, NULL, 240, res);
}

#define MODELS_DIR TEST_SRCDIR "/../host/models"

/* A fresh temporary directory (static). */
static const char *temp_dir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/sampan-quant-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	return dir;
}

Test(quant_cli, usage_and_bad_inputs)
{
	const char *dir = temp_dir();
	char empty[128], out[128], pgm[256], model_copy[128];
	struct spawn_result r;
	FILE *f;

	snprintf(empty, sizeof(empty), "%s/empty", dir);
	cr_assert_eq(mkdir(empty, 0755), 0);
	snprintf(out, sizeof(out), "%s/out.onnx", dir);
	{
		const char *a[] = {"quantize", MODELS_DIR "/fmnist_cnn.onnx", "-o", out, NULL};

		cr_assert_eq(run_cli(a, &r), 2, "no --calib: %s", r.err);
		cr_assert(strstr(r.err, "--calib"), "%s", r.err);
		spawn_result_free(&r);
	}
	{
		const char *a[] = {"quantize", MODELS_DIR "/fmnist_cnn.onnx", "--calib",
		                   MODELS_DIR "/calib", NULL};

		cr_assert_eq(run_cli(a, &r), 2, "no -o: %s", r.err);
		spawn_result_free(&r);
	}
	{
		const char *a[] = {"quantize", MODELS_DIR "/fmnist_cnn.onnx",
		                   "--calib",  MODELS_DIR "/calib",
		                   "-o",       out,
		                   "--method", "median",
		                   NULL};

		cr_assert_eq(run_cli(a, &r), 2);
		cr_assert(strstr(r.err, "median"), "%s", r.err);
		spawn_result_free(&r);
	}
	{
		const char *a[] = {"quantize",
		                   MODELS_DIR "/fmnist_cnn.onnx",
		                   "--calib",
		                   MODELS_DIR "/calib",
		                   "-o",
		                   out,
		                   "--percentile",
		                   "101",
		                   NULL};

		cr_assert_eq(run_cli(a, &r), 2);
		spawn_result_free(&r);
	}
	/* Never the input file. */
	snprintf(model_copy, sizeof(model_copy), "%s/m.onnx", dir);
	{
		size_t len;
		void *data = read_file(MODELS_DIR "/fmnist_cnn.onnx", &len);

		f = fopen(model_copy, "wb");
		cr_assert_not_null(f);
		cr_assert_eq(fwrite(data, 1, len, f), len);
		fclose(f);
		free(data);
	}
	{
		const char *a[] = {"quantize", model_copy, "--calib", MODELS_DIR "/calib",
		                   "-o",       model_copy, NULL};
		struct stat st;

		cr_assert_eq(run_cli(a, &r), 2);
		cr_assert(strstr(r.err, "input model"), "%s", r.err);
		cr_assert_eq(stat(model_copy, &st), 0);
		cr_assert_eq(st.st_size, 223874);
		spawn_result_free(&r);
	}
	/* An empty calibration directory, a missing one. */
	{
		const char *a[] = {
		    "quantize", MODELS_DIR "/fmnist_cnn.onnx", "--calib", empty, "-o", out, NULL};

		cr_assert_eq(run_cli(a, &r), 1);
		cr_assert(strstr(r.err, "no .npy, .pgm or .png files"), "%s", r.err);
		spawn_result_free(&r);
	}
	{
		const char *a[] = {"quantize", MODELS_DIR "/fmnist_cnn.onnx",
		                   "--calib",  "/nonexistent-calib",
		                   "-o",       out,
		                   NULL};

		cr_assert_eq(run_cli(a, &r), 1);
		cr_assert(strstr(r.err, "/nonexistent-calib"), "%s", r.err);
		spawn_result_free(&r);
	}
	/* An image of the wrong size. */
	snprintf(pgm, sizeof(pgm), "%s/a.pgm", empty);
	f = fopen(pgm, "wb");
	cr_assert_not_null(f);
	fputs("P5\n5 5\n255\n", f);
	for (int i = 0; i < 25; i++)
		fputc(i, f);
	fclose(f);
	{
		const char *a[] = {
		    "quantize", MODELS_DIR "/fmnist_cnn.onnx", "--calib", empty, "-o", out, NULL};

		cr_assert_eq(run_cli(a, &r), 1);
		cr_assert(strstr(r.err, "a.pgm"), "%s", r.err);
		spawn_result_free(&r);
	}
	/* A model with an integer input, a file that is no model. */
	{
		char qlc[1024];
		const char *a[] = {"quantize", qlc, "--calib", MODELS_DIR "/calib",
		                   "-o",       out, NULL};

		snprintf(qlc, sizeof(qlc), "%s/test_qlinearconv/model.onnx", testdata_dir());
		cr_assert_eq(run_cli(a, &r), 1);
		spawn_result_free(&r);
		a[1] = pgm;
		cr_assert_eq(run_cli(a, &r), 1);
		spawn_result_free(&r);
	}
	cr_assert_neq(access(out, F_OK), 0, "a failed run left %s", out);
	unlink(pgm);
	unlink(model_copy);
	rmdir(empty);
	rmdir(dir);
}

/* The demo model, quantized on part of its calibration set: valid JSON,
 * every product on the device, the ten samples classified as the float
 * model does, cpu and sim bit for bit the same. */
Test(quant_cli, fmnist_demo)
{
	const char *dir = temp_dir();
	char out[128], sample[256], err[ERR_SIZE];
	struct spawn_result r;
	struct onnx_model *fm, *qm;
	double num;
	int agree = 0;
	static const char *const samples[] = {"19_0", "2_1", "1_2", "13_3", "6_4",
	                                      "8_5",  "4_6", "9_7", "18_8", "0_9"};

	snprintf(out, sizeof(out), "%s/fmnist_int8.onnx", dir);
	{
		const char *a[] = {"quantize", MODELS_DIR "/fmnist_cnn.onnx",
		                   "--calib",  MODELS_DIR "/calib",
		                   "--limit",  "40",
		                   "-o",       out,
		                   "--json",   NULL};

		cr_assert_eq(run_cli(a, &r), 0, "%s", r.err);
		cr_assert(json_valid(r.out), "%s", r.out);
		cr_assert_eq(json_member(r.out, "products_on_device", &num, NULL, 0), 1);
		cr_assert_eq(num, 4);
		cr_assert_eq(json_member(r.out, "bn_folded", &num, NULL, 0), 1);
		cr_assert_eq(num, 2);
		cr_assert_eq(json_member(r.out, "activations_fused", &num, NULL, 0), 1);
		cr_assert_eq(num, 3);
		cr_assert_eq(json_member(r.out, "calibration_inputs", &num, NULL, 0), 1);
		cr_assert_eq(num, 40);
		spawn_result_free(&r);
	}
	cr_assert_eq(onnx_model_load(MODELS_DIR "/fmnist_cnn.onnx", &fm, err, sizeof(err)),
	             SAMPAN_OK, "%s", err);
	cr_assert_eq(onnx_model_load(out, &qm, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(count_op(qm, ONNX_OP_QLINEARCONV), 2);
	cr_assert_eq(count_op(qm, ONNX_OP_QLINEARMATMUL), 2);
	for (size_t s = 0; s < COUNT(samples); s++) {
		struct onnx_tensor *x, *yf, *yc, *ys;
		int cf = 0, cq = 0;

		snprintf(sample, sizeof(sample), MODELS_DIR "/samples/%s.npy", samples[s]);
		{
			/* The .npy holds float32 (1, 1, 28, 28) after a 128-byte header. */
			size_t len;
			uint8_t *data = read_file(sample, &len);
			int64_t dims[4] = {1, 1, 28, 28};

			cr_assert_eq(len, 128 + 784 * 4, "%s", sample);
			x = tensor(4, dims);
			memcpy(x->data, data + 128, 784 * 4);
			free(data);
		}
		yf = run1(fm, "cpu", &x);
		yc = run1(qm, "cpu", &x);
		ys = run1(qm, "sim", &x);
		cr_assert_eq(memcmp(yc->data, ys->data, 10 * sizeof(float)), 0,
		             "%s: cpu and sim differ", samples[s]);
		for (int c = 1; c < 10; c++) {
			cf = ((float *)yf->data)[c] > ((float *)yf->data)[cf] ? c : cf;
			cq = ((float *)yc->data)[c] > ((float *)yc->data)[cq] ? c : cq;
		}
		agree += cf == cq;
		onnx_tensor_destroy(x);
		onnx_tensor_destroy(yf);
		onnx_tensor_destroy(yc);
		onnx_tensor_destroy(ys);
	}
	cr_assert_geq(agree, 9, "int8 agrees with float on %d of 10 samples", agree);
	onnx_model_destroy(fm);
	onnx_model_destroy(qm);
	unlink(out);
	rmdir(dir);
}

/* Calibration from .npy files and images alike (samples/ holds both, and
 * a .tsv that is skipped), on sim, with the entropy method. */
Test(quant_cli, npy_and_images_on_sim)
{
	const char *dir = temp_dir();
	char out[128];
	struct spawn_result r;
	double num;
	char method[32];

	snprintf(out, sizeof(out), "%s/int8.onnx", dir);
	{
		const char *a[] = {"quantize", MODELS_DIR "/fmnist_cnn.onnx",
		                   "--calib",  MODELS_DIR "/samples",
		                   "-d",       "sim",
		                   "-m",       "entropy",
		                   "-o",       out,
		                   "--json",   NULL};

		cr_assert_eq(run_cli(a, &r), 0, "%s", r.err);
		cr_assert(json_valid(r.out), "%s", r.out);
		cr_assert_eq(json_member(r.out, "calibration_inputs", &num, NULL, 0), 1);
		cr_assert_eq(num, 20);
		cr_assert_eq(json_member(r.out, "method", NULL, method, sizeof(method)), 2);
		cr_assert_str_eq(method, "entropy");
		cr_assert_eq(json_member(r.out, "products_on_device", &num, NULL, 0), 1);
		cr_assert_eq(num, 4);
		spawn_result_free(&r);
	}
	/* The text summary names every quantized tensor. */
	{
		const char *a[] = {"quantize", MODELS_DIR "/fmnist_cnn.onnx",
		                   "--calib",  MODELS_DIR "/samples",
		                   "-n",       "2",
		                   "-o",       out,
		                   NULL};

		cr_assert_eq(run_cli(a, &r), 0, "%s", r.err);
		cr_assert(strstr(r.out, "2 inputs on cpu, method percentile 99.99"), "%s", r.out);
		cr_assert(strstr(r.out, "products on the device: 4 of 4"), "%s", r.out);
		cr_assert(strstr(r.out, "fc1.weight") && strstr(r.out, "/Relu_output_0") &&
		              strstr(r.out, "logits"),
		          "%s", r.out);
		spawn_result_free(&r);
	}
	unlink(out);
	rmdir(dir);
}

/* ============================================== importer: Clip as Relu */

/* Inserts Clip(@lo, @hi) (@hi < 0: no max) between the product writing
 * "@y_float" and its QuantizeLinear in the QDQ model @buf; returns the
 * new model. */
static void *insert_clip(const void *buf, size_t len, float lo, float hi, size_t *out_len)
{
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	const char *in[3] = {"y_preclip", "clip_lo", "clip_hi"};
	Onnx__GraphProto *g;
	Onnx__NodeProto *clip;
	bool found = false;

	cr_assert_not_null(mp);
	g = mp->graph;
	for (size_t n = 0; n < g->n_node; n++) {
		if (strcmp(g->node[n]->op_type, "Conv") == 0 &&
		    strcmp(g->node[n]->output[0], "y_float") == 0) {
			free(g->node[n]->output[0]);
			g->node[n]->output[0] = xstrdup("y_preclip");
			found = true;
		}
	}
	cr_assert(found, "no Conv writes y_float");
	mb_init(mp, "clip_lo", 0, NULL, &lo);
	if (hi >= 0)
		mb_init(mp, "clip_hi", 0, NULL, &hi);
	clip = mb_node(mp, "Clip", "clip", in, hi >= 0 ? 3 : 2, "y_float");
	/* Before the QuantizeLinear reading it: move it up from the end. */
	for (size_t n = 0; n + 1 < g->n_node; n++) {
		if (strcmp(g->node[n]->op_type, "QuantizeLinear") == 0 &&
		    strcmp(g->node[n]->input[0], "y_float") == 0) {
			memmove(&g->node[n + 1], &g->node[n],
			        (g->n_node - 1 - n) * sizeof(*g->node));
			g->node[n] = clip;
			break;
		}
	}
	return mb_pack(mp, out_len);
}

/* A QDQ Conv -> Clip(0, max) -> QuantizeLinear folds onto the device like
 * Conv -> Relu when the QuantizeLinear saturates at or below max; with a
 * lower max, or no min, the Clip stays a float op. */
Test(quant_model, importer_folds_relu_like_clip)
{
	Onnx__ModelProto *mp = mb_new(13);
	int64_t xd[4] = {1, 2, 6, 6}, wd[4] = {3, 2, 3, 3};
	const char *cv[2] = {"x", "w"}, *rl[1] = {"c"};
	struct onnx_tensor *in[3], *ref[3];
	struct quantized q;
	float *w, top;
	size_t len, clen;
	void *buf, *cbuf;
	struct onnx_model *m;

	seed_rng("quant_model::importer_folds_relu_like_clip");
	w = rnd_floats(54, -0.5f, 0.5f);
	mb_input(mp, "x", 4, xd);
	mb_output(mp, "y");
	mb_init(mp, "w", 4, wd, w);
	mb_node(mp, "Conv", "conv", cv, 2, "c");
	mb_node(mp, "Relu", "relu", rl, 1, "y");
	buf = mb_pack(mp, &len);
	for (int i = 0; i < 3; i++) {
		in[i] = tensor(4, xd);
		for (int k = 0; k < 72; k++)
			((float *)in[i]->data)[k] = rndf(-1, 1);
	}
	quantize(buf, len, in, 3, QUANT_MINMAX, "cpu", &q);
	cr_assert_eq(q.rep->act_fused, 1);
	top = entry(q.rep, QUANT_ACT, "y")->hi;
	for (int i = 0; i < 3; i++)
		ref[i] = run1(q.qm, "cpu", &in[i]);
	/* Clip(0, 6 * top): a Relu before this QuantizeLinear. */
	cbuf = insert_clip(q.buf, q.len, 0.0f, 6 * top, &clen);
	m = load_buf(cbuf, clen, "clip.onnx");
	cr_assert_eq(count_op(m, ONNX_OP_QLINEARCONV), 1);
	cr_assert_eq(count_op(m, ONNX_OP_CLIP), 0);
	for (int i = 0; i < 3; i++) {
		struct onnx_tensor *y = run1(m, i ? "cpu" : "sim", &in[i]);

		cr_assert_eq(memcmp(y->data, ref[i]->data, y->count * sizeof(float)), 0);
		onnx_tensor_destroy(y);
	}
	onnx_model_destroy(m);
	free(cbuf);
	/* Clip(0, top / 2) clips more than the QuantizeLinear: kept. */
	cbuf = insert_clip(q.buf, q.len, 0.0f, top / 2, &clen);
	m = load_buf(cbuf, clen, "clip.onnx");
	cr_assert_eq(count_op(m, ONNX_OP_CLIP), 1);
	cr_assert_eq(count_op(m, ONNX_OP_QLINEARCONV), 0);
	{
		struct onnx_tensor *y = run1(m, "cpu", &in[0]);

		for (size_t k = 0; k < y->count; k++)
			cr_assert_leq(((float *)y->data)[k], top / 2 + top / 255);
		onnx_tensor_destroy(y);
	}
	onnx_model_destroy(m);
	free(cbuf);
	/* A Clip with a negative min is no Relu: kept. */
	cbuf = insert_clip(q.buf, q.len, -1.0f, -1.0f, &clen);
	m = load_buf(cbuf, clen, "clip.onnx");
	cr_assert_eq(count_op(m, ONNX_OP_CLIP), 1);
	onnx_model_destroy(m);
	free(cbuf);
	for (int i = 0; i < 3; i++) {
		onnx_tensor_destroy(in[i]);
		onnx_tensor_destroy(ref[i]);
	}
	quantized_free(&q);
	free(buf);
	free(w);
}

/* Models --calib DIR cannot feed: two graph inputs, none. */
Test(quant_cli, input_count)
{
	const char *dir = temp_dir();
	char path[128], out[128];
	struct spawn_result r;
	int64_t d[2] = {1, 4};
	float c[4] = {1, -2, 3, -4};

	snprintf(path, sizeof(path), "%s/m.onnx", dir);
	snprintf(out, sizeof(out), "%s/q.onnx", dir);
	for (int inputs = 0; inputs <= 2; inputs += 2) {
		Onnx__ModelProto *mp = mb_new(13);
		const char *add[2] = {"a", "b"}, *relu[1] = {"c"};
		const char *a[] = {"quantize", path, "--calib", MODELS_DIR "/calib",
		                   "-o",       out,  NULL};
		size_t len;
		void *buf;
		FILE *f;

		mb_output(mp, "y");
		if (inputs) {
			mb_input(mp, "a", 2, d);
			mb_input(mp, "b", 2, d);
			mb_node(mp, "Add", "add", add, 2, "y");
		} else {
			mb_init(mp, "c", 2, d, c);
			mb_node(mp, "Relu", "relu", relu, 1, "y");
		}
		buf = mb_pack(mp, &len);
		f = fopen(path, "wb");
		cr_assert_not_null(f);
		cr_assert_eq(fwrite(buf, 1, len, f), len);
		fclose(f);
		free(buf);
		cr_assert_eq(run_cli(a, &r), 1, "%d inputs: %s", inputs, r.err);
		cr_assert(strstr(r.err, inputs ? "2 graph inputs" : "0 graph inputs"), "%s", r.err);
		spawn_result_free(&r);
	}
	cr_assert_neq(access(out, F_OK), 0);
	unlink(path);
	rmdir(dir);
}

/* `sampan quantize -o` and the .npy outputs write through one helper
 * (host/fileio.c): atomically, with the mode fopen() would give (0666 less
 * the umask), not mkstemp's 0600. */
Test(quant_cli, output_file_mode)
{
	char dir[] = "/tmp/sampan-mode-XXXXXX", path[64];
	const char data[] = "twelve bytes";
	char err[512];
	mode_t mask = umask(022);
	struct stat st;
	uint8_t *back;
	size_t len;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.onnx", dir);
	cr_assert_eq(quant_write_file(path, data, 12, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "mode %o", (unsigned)(st.st_mode & 0777));
	cr_assert_eq(file_read_all(path, 12, &back, &len, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert(len == 12 && memcmp(back, data, 12) == 0);
	free(back);
	cr_assert_eq(file_read_all(path, 11, &back, &len, err, sizeof(err)), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, path) != NULL, "%s", err);
	unlink(path);
	rmdir(dir);
	umask(mask);
}

/* An opset 9 model (an older exporter's): MatMul -> Clip with its bounds
 * as attributes (Clip-6, min 0, max 6) -> MatMul. Quantized, it is raised
 * to opset 13 with the bounds turned into inputs: the Clip fuses like a
 * Relu, the result loads and agrees with the float model (which runs at
 * opset 9 with Clip-6's meaning). */
Test(quant_model, old_opset_clip_attributes)
{
	Onnx__ModelProto *mp = mb_new(9);
	int64_t xd[2] = {3, 8}, wd[2] = {8, 8};
	const char *mm1[2] = {"x", "w1"}, *cl[1] = {"h"}, *mm2[2] = {"c", "w2"};
	struct sampan_device *dev = open_dev("cpu");
	struct quant_options opt = {.method = QUANT_MINMAX};
	struct quant_calib *cal = NULL;
	struct onnx_tensor *x, *a, *b;
	struct quantized q = {0};
	Onnx__NodeProto *clip;
	float *w1, *w2;
	char err[ERR_SIZE];
	size_t len;
	void *buf;

	seed_rng("quant_model::old_opset_clip_attributes");
	w1 = rnd_floats(64, -1, 1);
	w2 = rnd_floats(64, -1, 1);
	mb_input(mp, "x", 2, xd);
	mb_output(mp, "y");
	mb_init(mp, "w1", 2, wd, w1);
	mb_init(mp, "w2", 2, wd, w2);
	mb_node(mp, "MatMul", "mm1", mm1, 2, "h");
	clip = mb_node(mp, "Clip", "clip", cl, 1, "c");
	mb_attr_f(clip, "min", 0.0f);
	mb_attr_f(clip, "max", 6.0f);
	mb_node(mp, "MatMul", "mm2", mm2, 2, "y");
	buf = mb_pack(mp, &len);
	q.fm = load_buf(buf, len, "clip9.onnx");
	cr_assert_eq(q.fm->opset, 9);
	x = tensor(2, xd);
	for (size_t k = 0; k < x->count; k++)
		((float *)x->data)[k] = rndf(-2, 2);
	cr_assert_eq(quant_calib_create(q.fm, &cal), SAMPAN_OK);
	cr_assert_eq(quant_calibrate(cal, dev, 1, &x, false, err, sizeof(err)), SAMPAN_OK, "%s",
	             err);
	cr_assert_eq(quant_model(buf, len, "clip9.onnx", q.fm, cal, &opt, &q.buf, &q.len, &q.rep,
	                         err, sizeof(err)),
	             SAMPAN_OK, "%s", err);
	cr_assert_eq(q.rep->opset, 13);
	cr_assert_geq(q.rep->act_fused, 1, "the Clip fused like a Relu");
	q.qm = load_buf(q.buf, q.len, "q.onnx");
	cr_assert_eq(q.qm->opset, 13);
	a = run1(q.fm, "cpu", &x);
	b = run1(q.qm, "cpu", &x);
	cr_assert_leq(err_steps(b, a), QUANT_TOL_MODEL);
	onnx_tensor_destroy(a);
	onnx_tensor_destroy(b);
	quant_calib_destroy(cal);
	onnx_tensor_destroy(x);
	quantized_free(&q);
	sampan_close(dev);
	free(buf);
	free(w1);
	free(w2);
}
