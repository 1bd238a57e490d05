/*
 * test_onnx.c - the ONNX importer and runtime: the ONNX backend node tests
 * of the quantized ops (Debian's libonnx-testdata) bit-exact on cpu and
 * sim, and models that must be refused at load time with a message naming
 * the file and what is wrong (truncated, garbage, unsupported op or opset,
 * cycles, dangling references, type mismatches).
 *
 * Also the node tests of the host ops (floats within HOST_FLOAT_TOL), QDQ
 * models folded into device ops, random convolutions and matrix products
 * of every type combination against a direct reference on both devices,
 * rounding ties, PGM images, and the `sampan run` command.
 *
 * SAMPAN_ONNX_TESTDATA overrides the node test directory.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "onnx.pb-c.h"
#include "data/image.h"
#include "onnx/onnx_model.h"
#include "runtime/runtime.h"
#include "npyio.h"
#include "sampan.h"
#include "spawn.h"
#include "util.h"

TestSuite(onnx_conformance, .timeout = 120);
TestSuite(onnx_import, .timeout = 60);
TestSuite(onnx_runtime, .timeout = 60);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))
#define ERR_SIZE 1024

static const char *testdata_dir(void)
{
	const char *dir = getenv("SAMPAN_ONNX_TESTDATA");

	return dir && dir[0] ? dir : "/usr/share/libonnx-testdata/data/node";
}

/* ------------------------------------------------------------ conformance */

/* Node tests of the quantized ops; every one runs on each device. */
static const char *const node_tests[] = {
    "test_qlinearmatmul_2D",  "test_qlinearmatmul_3D",         "test_matmulinteger",
    "test_qlinearconv",       "test_convinteger_with_padding", "test_convinteger_without_padding",
    "test_basic_convinteger", "test_quantizelinear",           "test_quantizelinear_axis",
    "test_dequantizelinear",  "test_dequantizelinear_axis",
};
static const char *const devices[] = {"cpu", "sim"};

/* Criterion copies parameters into the test process: names inline. */
struct node_param {
	char test[64];
	char dev[16];
};

ParameterizedTestParameters(onnx_conformance, node)
{
	static struct node_param params[COUNT(node_tests) * COUNT(devices)];
	size_t n = 0;

	for (size_t t = 0; t < COUNT(node_tests); t++)
		for (size_t d = 0; d < COUNT(devices); d++, n++) {
			snprintf(params[n].test, sizeof(params[n].test), "%s", node_tests[t]);
			snprintf(params[n].dev, sizeof(params[n].dev), "%s", devices[d]);
		}
	return cr_make_param_array(struct node_param, params, n);
}

static struct sampan_device *open_dev(const char *name)
{
	struct sampan_device *dev = NULL;
	int ret = sampan_open(&dev, name);

	cr_assert_eq(ret, SAMPAN_OK, "sampan_open(%s): %s", name, sampan_last_error());
	return dev;
}

static struct onnx_tensor *read_pb(const char *path)
{
	struct onnx_tensor *t = NULL;
	char err[ERR_SIZE];
	int ret = onnx_tensor_read_pb(path, &t, NULL, err, sizeof(err));

	cr_assert_eq(ret, SAMPAN_OK, "%s", err);
	return t;
}

static void *read_whole(const char *path, size_t *len);

/* Rewrites what an opset-6 exporter wrote into its opset-7 form, as the
 * ONNX version converter does: drops the attributes that opset 7 removed
 * (is_test, consumed_inputs, and broadcast = 1, which opset 7's
 * broadcasting does by default). */
static void strip_v6_attrs(Onnx__NodeProto *n)
{
	size_t k = 0;

	for (size_t a = 0; a < n->n_attribute; a++) {
		const char *name = n->attribute[a]->name;

		Onnx__AttributeProto *keep = n->attribute[a];

		if (strcmp(name, "is_test") == 0 || strcmp(name, "consumed_inputs") == 0 ||
		    (strcmp(name, "broadcast") == 0 && n->attribute[a]->i == 1))
			continue;
		/* A swap: the array stays whole for the free. */
		n->attribute[a] = n->attribute[k];
		n->attribute[k++] = keep;
	}
	n->n_attribute = k;
}

/* From opset 18 ReduceMean takes its axes as an input: moves the axes
 * attribute of @n into a new initializer of graph @g. */
static void axes_to_input(Onnx__GraphProto *g, Onnx__NodeProto *n)
{
	static Onnx__TensorProto tp;
	static Onnx__TensorProto *inits[64];
	static char *inputs[2];
	static int64_t dims[1];
	size_t k = 0;

	for (size_t a = 0; a < n->n_attribute; a++) {
		Onnx__AttributeProto *at = n->attribute[a];

		if (strcmp(at->name, "axes") != 0) {
			n->attribute[a] = n->attribute[k];
			n->attribute[k++] = at;
			continue;
		}
		onnx__tensor_proto__init(&tp);
		tp.name = (char *)"axes_as_input";
		tp.has_data_type = 1;
		tp.data_type = ONNX_DT_INT64;
		dims[0] = (int64_t)at->n_ints;
		tp.n_dims = 1;
		tp.dims = dims;
		tp.n_int64_data = at->n_ints;
		tp.int64_data = at->ints;
		cr_assert_lt(g->n_initializer, COUNT(inits));
		for (size_t i = 0; i < g->n_initializer; i++)
			inits[i] = g->initializer[i];
		inits[g->n_initializer] = &tp;
		g->initializer = inits;
		g->n_initializer++;
		inputs[0] = n->input[0];
		inputs[1] = tp.name;
		n->input = inputs;
		n->n_input = 2;
	}
	n->n_attribute = k;
}

/* Loads a node test's model with its opset replaced by @opset (0: as it
 * is), ReduceMean's axes moved to an input from 18 and opset-6 attributes
 * dropped from 7 (see above). GlobalAveragePool's tests declare opset 1,
 * below what the importer accepts; the op is unchanged since, so their
 * opset is raised to ONNX_OPSET_MIN. On failure @err holds the importer's
 * message and NULL is returned, with @code the error when not NULL. */
static struct onnx_model *try_load_at(const char *path, int64_t opset, int *code, char *err,
                                      size_t err_size)
{
	Onnx__ModelProto *mp;
	struct onnx_model *m = NULL;
	uint8_t *data, *packed;
	/* Pointers the rewrites swap in are restored before the free. */
	Onnx__TensorProto **inits;
	size_t len, n_inits;
	char **saved_in[16];
	size_t saved_n_in[16], saved_n_attr[16];
	int ret;

	data = read_whole(path, &len);
	mp = onnx__model_proto__unpack(NULL, len, data);
	cr_assert_not_null(mp, "%s: cannot parse", path);
	cr_assert_leq(mp->graph->n_node, 16);
	inits = mp->graph->initializer;
	n_inits = mp->graph->n_initializer;
	for (size_t i = 0; i < mp->n_opset_import; i++) {
		if (strstr(path, "/test_globalaveragepool") &&
		    mp->opset_import[i]->version < ONNX_OPSET_MIN)
			mp->opset_import[i]->version = ONNX_OPSET_MIN;
		if (opset)
			mp->opset_import[i]->version = opset;
	}
	for (size_t i = 0; i < mp->graph->n_node; i++) {
		Onnx__NodeProto *n = mp->graph->node[i];

		saved_in[i] = n->input;
		saved_n_in[i] = n->n_input;
		saved_n_attr[i] = n->n_attribute;
		if (opset >= 7)
			strip_v6_attrs(n);
		if (opset >= 18 && strcmp(n->op_type, "ReduceMean") == 0)
			axes_to_input(mp->graph, n);
	}
	packed = malloc(onnx__model_proto__get_packed_size(mp));
	cr_assert_not_null(packed);
	len = onnx__model_proto__pack(mp, packed);
	ret = onnx_model_load_buffer(packed, len, path, &m, err, err_size);
	if (code)
		*code = ret;
	/* The dropped attributes stay in the array past n_attribute. */
	for (size_t i = 0; i < mp->graph->n_node; i++) {
		mp->graph->node[i]->input = saved_in[i];
		mp->graph->node[i]->n_input = saved_n_in[i];
		mp->graph->node[i]->n_attribute = saved_n_attr[i];
	}
	mp->graph->initializer = inits;
	mp->graph->n_initializer = n_inits;
	onnx__model_proto__free_unpacked(mp, NULL);
	free(packed);
	free(data);
	return ret == SAMPAN_OK ? m : NULL;
}

static struct onnx_model *load_node_model_at(const char *path, int64_t opset)
{
	char err[ERR_SIZE];
	struct onnx_model *m = try_load_at(path, opset, NULL, err, sizeof(err));

	cr_assert_not_null(m, "%s at opset %lld: %s", path, (long long)opset, err);
	return m;
}

/* Whether float @got is within @tol of @want: |got - want| <= tol * (|want| + 1)
 * (relative, absolute near zero); NaN matches NaN. */
static bool float_close(float got, float want, double tol)
{
	if (isnan(want))
		return isnan(got);
	return fabs((double)got - (double)want) <= tol * (fabs((double)want) + 1.0);
}

/* Runs every test_data_set_* of one node test and compares each output
 * element for element: integers exactly, floats bit for bit when @tol is
 * 0, else within @tol (float_close). Returns the number of sets. */
static int run_node_test_at(const char *dir, const char *devname, double tol, int64_t opset)
{
	struct sampan_device *dev = open_dev(devname);
	struct onnx_model *m = NULL;
	char path[2048], err[ERR_SIZE];
	int sets = 0, ret;

	snprintf(path, sizeof(path), "%s/model.onnx", dir);
	m = load_node_model_at(path, opset);
	for (;; sets++) {
		struct onnx_tensor *in[16] = {0}, *out[16] = {0};

		snprintf(path, sizeof(path), "%s/test_data_set_%d", dir, sets);
		if (access(path, F_OK) != 0)
			break;
		cr_assert_leq(m->n_inputs, 16);
		for (int i = 0; i < m->n_inputs; i++) {
			snprintf(path, sizeof(path), "%s/test_data_set_%d/input_%d.pb", dir, sets,
			         i);
			in[i] = read_pb(path);
		}
		ret = rt_run(m, dev, in, out, NULL, err, sizeof(err));
		cr_assert_eq(ret, SAMPAN_OK, "%s on %s: %s", dir, devname, err);
		for (int o = 0; o < m->n_outputs; o++) {
			struct onnx_tensor *want;
			size_t item;

			snprintf(path, sizeof(path), "%s/test_data_set_%d/output_%d.pb", dir, sets,
			         o);
			want = read_pb(path);
			item = onnx_dtype_size(want->dtype);
			cr_assert_eq(out[o]->dtype, want->dtype, "%s: output %d is %s, expected %s",
			             path, o, onnx_dtype_name(out[o]->dtype),
			             onnx_dtype_name(want->dtype));
			cr_assert_eq(out[o]->ndim, want->ndim, "%s: rank", path);
			for (int d = 0; d < want->ndim; d++)
				cr_assert_eq(out[o]->dims[d], want->dims[d], "%s: dim %d", path, d);
			for (size_t i = 0; i < want->count; i++) {
				if (tol > 0 && want->dtype == ONNX_DT_FLOAT) {
					float g = ((float *)out[o]->data)[i];
					float w = ((float *)want->data)[i];

					cr_assert(float_close(g, w, tol),
					          "%s on %s: element %zu is %.9g, expected %.9g",
					          path, devname, i, (double)g, (double)w);
					continue;
				}
				cr_assert(memcmp((char *)out[o]->data + i * item,
				                 (char *)want->data + i * item, item) == 0,
				          "%s on %s: element %zu differs", path, devname, i);
			}
			onnx_tensor_destroy(want);
			onnx_tensor_destroy(out[o]);
		}
		for (int i = 0; i < m->n_inputs; i++)
			onnx_tensor_destroy(in[i]);
	}
	onnx_model_destroy(m);
	sampan_close(dev);
	return sets;
}

static int run_node_test(const char *dir, const char *devname, double tol)
{
	return run_node_test_at(dir, devname, tol, 0);
}

ParameterizedTest(struct node_param *p, onnx_conformance, node)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%.900s/%s", testdata_dir(), p->test);
	cr_assert_gt(run_node_test(dir, p->dev, 0), 0, "%s has no test_data_set_0", dir);
}

/* Node tests of the host ops. They run on the host whatever the device,
 * so on cpu only. Float outputs within HOST_FLOAT_TOL (the host
 * accumulates in double and rounds once; numpy's float32 order differs),
 * integer outputs exactly. */
#define HOST_FLOAT_TOL 1e-5

static const char *const host_node_tests[] = {
    "test_add",
    "test_add_bcast",
    "test_add_uint8",
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
    "test_batchnorm_epsilon",
    "test_batchnorm_example",
    "test_clip",
    "test_clip_default_inbounds",
    "test_clip_default_int8_inbounds",
    "test_clip_default_int8_max",
    "test_clip_default_int8_min",
    "test_clip_default_max",
    "test_clip_default_min",
    "test_clip_example",
    "test_clip_inbounds",
    "test_clip_outbounds",
    "test_clip_splitbounds",
    "test_concat_2d_axis_0",
    "test_concat_2d_axis_1",
    "test_concat_2d_axis_negative_1",
    "test_concat_2d_axis_negative_2",
    "test_concat_3d_axis_0",
    "test_concat_3d_axis_1",
    "test_concat_3d_axis_2",
    "test_concat_3d_axis_negative_1",
    "test_concat_3d_axis_negative_2",
    "test_concat_3d_axis_negative_3",
    "test_conv_with_autopad_same",
    "test_conv_with_strides_and_asymmetric_padding",
    "test_conv_with_strides_no_padding",
    "test_conv_with_strides_padding",
    "test_flatten_axis0",
    "test_flatten_axis1",
    "test_flatten_axis2",
    "test_flatten_axis3",
    "test_flatten_default_axis",
    "test_flatten_negative_axis1",
    "test_flatten_negative_axis2",
    "test_flatten_negative_axis3",
    "test_flatten_negative_axis4",
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
    "test_globalaveragepool",
    "test_globalaveragepool_precomputed",
    "test_matmul_2d",
    "test_matmul_3d",
    "test_matmul_4d",
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
    "test_maxpool_2d_uint8",
    "test_relu",
    "test_reshape_extended_dims",
    "test_reshape_negative_dim",
    "test_reshape_negative_extended_dims",
    "test_reshape_one_dim",
    "test_reshape_reduced_dims",
    "test_reshape_reordered_all_dims",
    "test_reshape_reordered_last_dims",
    "test_reshape_zero_and_negative_dim",
    "test_reshape_zero_dim",
    "test_softmax_axis_0",
    "test_softmax_axis_1",
    "test_softmax_axis_2",
    "test_softmax_default_axis",
    "test_softmax_example",
    "test_softmax_large_number",
    "test_softmax_negative_axis",
};

ParameterizedTestParameters(onnx_host_ops, node)
{
	static struct node_param params[COUNT(host_node_tests)];

	for (size_t t = 0; t < COUNT(host_node_tests); t++) {
		snprintf(params[t].test, sizeof(params[t].test), "%s", host_node_tests[t]);
		snprintf(params[t].dev, sizeof(params[t].dev), "cpu");
	}
	return cr_make_param_array(struct node_param, params, COUNT(host_node_tests));
}

ParameterizedTest(struct node_param *p, onnx_host_ops, node, .timeout = 60)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%.900s/%s", testdata_dir(), p->test);
	cr_assert_gt(run_node_test(dir, p->dev, HOST_FLOAT_TOL), 0, "%s has no test_data_set_0",
	             dir);
}

/* ---------------------------------------------------------------- opsets */

/* Node tests of libonnx-testdata run at every opset of ONNX_OPSET_MIN to
 * ONNX_OPSET_MAX where their op has the same meaning for what the test
 * uses: the model's opset is replaced (see try_load_at), the expected
 * outputs stay. The opset-6 models of the PyTorch exporter's tests run from
 * opset 7 without the attributes 7 removed. Paths are under the testdata's
 * data/ directory. */
struct opset_case {
	const char *test;
	int first, last;
};

static const struct opset_case opset_cases[] = {
    {"node/test_add", 7, 21},
    {"node/test_add_bcast", 7, 21},
    {"node/test_add_uint8", 14, 21}, /* integer Add from 14 */
    {"node/test_relu", 7, 21},
    {"node/test_averagepool_2d_default", 7, 21},
    {"node/test_averagepool_2d_pads_count_include_pad", 7, 21},
    {"node/test_averagepool_2d_same_upper", 7, 21},
    {"node/test_averagepool_2d_ceil", 10, 21}, /* ceil_mode from 10 */
    {"node/test_maxpool_2d_default", 7, 21},
    {"node/test_maxpool_2d_pads", 7, 21},
    {"node/test_maxpool_2d_ceil", 10, 21},
    {"node/test_maxpool_2d_dilations", 10, 21},
    {"node/test_maxpool_2d_uint8", 12, 21}, /* 8-bit MaxPool from 12 */
    {"node/test_globalaveragepool", 7, 21},
    {"node/test_batchnorm_example", 9, 21}, /* no spatial attribute from 9 */
    {"node/test_batchnorm_epsilon", 9, 21},
    {"pytorch-converted/test_BatchNorm2d_eval", 7, 21},
    {"pytorch-converted/test_BatchNorm2d_momentum_eval", 7, 21},
    {"node/test_clip", 11, 21}, /* min and max inputs from 11 */
    {"node/test_clip_default_min", 11, 21},
    {"node/test_clip_splitbounds", 11, 21},
    {"node/test_clip_default_int8_min", 12, 21},    /* integer Clip from 12 */
    {"pytorch-operator/test_operator_clip", 7, 10}, /* min and max attributes */
    {"node/test_concat_2d_axis_0", 7, 21},
    {"node/test_concat_3d_axis_2", 7, 21},
    {"node/test_concat_3d_axis_negative_1", 11, 21}, /* negative axes from 11 */
    {"pytorch-operator/test_operator_concat2", 7, 21},
    {"node/test_conv_with_strides_padding", 7, 21},
    {"node/test_conv_with_autopad_same", 7, 21},
    {"pytorch-converted/test_Conv2d", 7, 21},
    {"pytorch-converted/test_Conv2d_groups", 7, 21},
    {"pytorch-converted/test_Conv2d_depthwise_padded", 7, 21},
    {"node/test_flatten_axis0", 7, 21},
    {"node/test_flatten_default_axis", 7, 21},
    {"node/test_flatten_negative_axis1", 11, 21},
    {"pytorch-operator/test_operator_flatten", 7, 21},
    {"node/test_gemm_all_attributes", 7, 21},
    {"node/test_gemm_transposeA", 7, 21},
    {"node/test_gemm_default_scalar_bias", 7, 21},
    {"node/test_gemm_default_no_bias", 11, 21}, /* C optional from 11 */
    {"pytorch-converted/test_Linear", 7, 21},
    {"pytorch-operator/test_operator_addmm", 7, 21},
    {"node/test_matmul_2d", 7, 21},
    {"node/test_matmul_4d", 7, 21},
    {"node/test_reshape_reordered_all_dims", 7, 21},
    {"node/test_reshape_negative_dim", 7, 21},
    {"node/test_reshape_zero_dim", 7, 21},
    {"node/test_softmax_example", 7, 21}, /* 2-D: the same before and from 13 */
    {"node/test_softmax_axis_2", 7, 21},  /* last axis: the same */
    {"node/test_softmax_axis_0", 13, 21},
    {"node/test_softmax_axis_1", 13, 21},
    {"pytorch-converted/test_Softmax", 7, 21},
    {"pytorch-converted/test_softmax_functional_dim3", 7, 21},
    {"node/test_reduce_mean_keepdims_example", 7, 21},
    {"node/test_reduce_mean_do_not_keepdims_random", 7, 21},
    {"node/test_reduce_mean_default_axes_keepdims_random", 7, 21},
    {"node/test_reduce_mean_negative_axes_keepdims_example", 11, 21},
    {"pytorch-operator/test_operator_reduced_mean", 7, 21},
    {"pytorch-operator/test_operator_reduced_mean_keepdim", 7, 21},
    {"node/test_quantizelinear", 10, 21},
    {"node/test_dequantizelinear", 10, 21},
    {"node/test_quantizelinear_axis", 13, 21}, /* per-axis from 13 */
    {"node/test_dequantizelinear_axis", 13, 21},
    {"node/test_qlinearconv", 10, 21},
    {"node/test_qlinearmatmul_2D", 10, 21},
    {"node/test_qlinearmatmul_3D", 10, 21},
    {"node/test_matmulinteger", 10, 21},
    {"node/test_convinteger_with_padding", 10, 21},
};

struct opset_param {
	char test[96];
	int opset;
};

ParameterizedTestParameters(onnx_opsets, node)
{
	static struct opset_param
	    params[COUNT(opset_cases) * (ONNX_OPSET_MAX - ONNX_OPSET_MIN + 1)];
	size_t n = 0;

	for (size_t t = 0; t < COUNT(opset_cases); t++)
		for (int v = opset_cases[t].first; v <= opset_cases[t].last; v++, n++) {
			snprintf(params[n].test, sizeof(params[n].test), "%s", opset_cases[t].test);
			params[n].opset = v;
		}
	return cr_make_param_array(struct opset_param, params, n);
}

/* The testdata's data/ directory (the parent of the node tests'). */
static const char *testdata_root(char *buf, size_t size)
{
	snprintf(buf, size, "%.900s/..", testdata_dir());
	return buf;
}

ParameterizedTest(struct opset_param *p, onnx_opsets, node, .timeout = 60)
{
	char dir[1200], root[1000];

	cr_log_info("%s at opset %d", p->test, p->opset);
	snprintf(dir, sizeof(dir), "%s/%s", testdata_root(root, sizeof(root)), p->test);
	cr_assert_gt(run_node_test_at(dir, "cpu", HOST_FLOAT_TOL, p->opset), 0,
	             "%s has no test_data_set_0", dir);
}

/* Models that an opset does not allow: refused, naming the op version. */
Test(onnx_opsets, refused)
{
	static const struct {
		const char *test;
		int opset;
		int code;
		const char *needle;
	} cases[] = {
	    {"node/test_qlinearconv", 9, SAMPAN_ERROR_NOT_SUPPORTED,
	     "op 'QLinearConv' does not exist in opset 9 (it was added in opset 10)"},
	    {"node/test_add_uint8", 13, SAMPAN_ERROR_NOT_SUPPORTED, "(Add-13, opset 13)"},
	    {"node/test_maxpool_2d_uint8", 11, SAMPAN_ERROR_NOT_SUPPORTED, "MaxPool-11"},
	    {"node/test_clip", 10, SAMPAN_ERROR_INVALID, "(Clip-6): 3 inputs, expected 1 to 1"},
	    {"pytorch-operator/test_operator_clip", 11, SAMPAN_ERROR_INVALID,
	     "(Clip-11, opset 11): attribute 'max' does not exist"},
	    {"node/test_gemm_default_no_bias", 10, SAMPAN_ERROR_INVALID,
	     "(Gemm-9, opset 10): input 'C' is required"},
	    {"node/test_maxpool_2d_ceil", 9, SAMPAN_ERROR_INVALID,
	     "(MaxPool-8, opset 9): attribute 'ceil_mode' does not exist"},
	    {"node/test_add", 6, SAMPAN_ERROR_NOT_SUPPORTED,
	     "opset 6 is not supported (7 to 21 are)"},
	    {"node/test_add", 22, SAMPAN_ERROR_NOT_SUPPORTED, "opset 22 is not supported"},
	};
	char path[1200], root[1000], err[ERR_SIZE];

	for (size_t i = 0; i < COUNT(cases); i++) {
		int code = 0;

		snprintf(path, sizeof(path), "%s/%s/model.onnx", testdata_root(root, sizeof(root)),
		         cases[i].test);
		cr_assert_null(try_load_at(path, cases[i].opset, &code, err, sizeof(err)),
		               "%s at opset %d loaded", cases[i].test, cases[i].opset);
		cr_expect_eq(code, cases[i].code, "%s at %d: code %d (%s)", cases[i].test,
		             cases[i].opset, code, err);
		cr_expect(strstr(err, cases[i].needle) != NULL, "%s at %d: message lacks '%s': %s",
		          cases[i].test, cases[i].opset, cases[i].needle, err);
	}
}

/* QuantizeLinear and DequantizeLinear before 13 take scalar parameters
 * only: the per-axis test at opset 12 loads (its axis is the default) but
 * does not run. */
Test(onnx_opsets, per_axis_before_13)
{
	static const char *const tests[] = {"test_quantizelinear_axis",
	                                    "test_dequantizelinear_axis"};
	char path[1300], err[ERR_SIZE];
	struct sampan_device *dev = open_dev("cpu");

	for (size_t i = 0; i < COUNT(tests); i++) {
		struct onnx_tensor *in[3], *out[1] = {NULL};
		struct onnx_model *m;
		int ret;

		snprintf(path, sizeof(path), "%s/%s/model.onnx", testdata_dir(), tests[i]);
		m = load_node_model_at(path, 12);
		cr_assert_leq(m->n_inputs, 3);
		for (int k = 0; k < m->n_inputs; k++) {
			snprintf(path, sizeof(path), "%s/%s/test_data_set_0/input_%d.pb",
			         testdata_dir(), tests[i], k);
			in[k] = read_pb(path);
		}
		ret = rt_run(m, dev, in, out, NULL, err, sizeof(err));
		cr_expect_eq(ret, SAMPAN_ERROR_INVALID, "%s: %d (%s)", tests[i], ret, err);
		cr_expect(strstr(err, "the scale and zero point of version 10 of the op must be "
		                      "scalars") != NULL,
		          "%s: %s", tests[i], err);
		for (int k = 0; k < m->n_inputs; k++)
			onnx_tensor_destroy(in[k]);
		onnx_model_destroy(m);
	}
	sampan_close(dev);
}

/* Softmax before 13 is over the 2-D view from the axis: test_softmax_axis_0
 * and _1 at opset 12 against softmax computed here over the rows of that
 * view, in double. */
Test(onnx_opsets, softmax_coerced_before_13)
{
	char dir[1200], path[1300], err[ERR_SIZE];
	struct sampan_device *dev = open_dev("cpu");

	for (int axis = 0; axis <= 1; axis++) {
		struct onnx_model *m;
		struct onnx_tensor *x, *y[1];
		int64_t rows = 1, cols = 1;

		snprintf(dir, sizeof(dir), "%s/test_softmax_axis_%d", testdata_dir(), axis);
		snprintf(path, sizeof(path), "%s/model.onnx", dir);
		m = load_node_model_at(path, 12);
		snprintf(path, sizeof(path), "%s/test_data_set_0/input_0.pb", dir);
		x = read_pb(path);
		cr_assert_eq(rt_run(m, dev, &x, y, NULL, err, sizeof(err)), SAMPAN_OK, "%s", err);
		for (int d = 0; d < x->ndim; d++)
			*(d < axis ? &rows : &cols) *= x->dims[d];
		for (int64_t r = 0; r < rows; r++) {
			const float *in = (const float *)x->data + r * cols;
			const float *out = (const float *)y[0]->data + r * cols;
			double mx = -INFINITY, sum = 0;

			for (int64_t c = 0; c < cols; c++)
				mx = in[c] > mx ? in[c] : mx;
			for (int64_t c = 0; c < cols; c++)
				sum += exp((double)in[c] - mx);
			for (int64_t c = 0; c < cols; c++)
				cr_assert(float_close(out[c],
				                      (float)(exp((double)in[c] - mx) / sum),
				                      HOST_FLOAT_TOL),
				          "axis %d, row %lld, column %lld: %g", axis, (long long)r,
				          (long long)c, (double)out[c]);
		}
		onnx_tensor_destroy(y[0]);
		onnx_tensor_destroy(x);
		onnx_model_destroy(m);
	}
	sampan_close(dev);
}

/* ------------------------------------------------------------- bad files */

/* Writes @len bytes to a new temporary file; returns its path (static). */
static const char *write_temp(const void *data, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/sampan-onnx-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(*len);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

/* Loads @path, expects @code and a message containing @path and @needle. */
static void expect_refused(const char *path, int code, const char *needle)
{
	struct onnx_model *m = NULL;
	char err[ERR_SIZE] = "";
	int ret = onnx_model_load(path, &m, err, sizeof(err));

	cr_assert_eq(ret, code, "%s: got %d (%s), expected %d", path, ret, err, code);
	cr_assert_null(m);
	cr_assert(strstr(err, path) != NULL, "message does not name the file: %s", err);
	cr_assert(strstr(err, needle) != NULL, "message lacks '%s': %s", needle, err);
}

Test(onnx_import, truncated_model)
{
	char src[1024];
	size_t len;
	void *buf;

	snprintf(src, sizeof(src), "%s/test_qlinearconv/model.onnx", testdata_dir());
	buf = read_whole(src, &len);
	/* Every cut inside the last field must fail, none may crash. */
	for (size_t cut = len / 2; cut < len; cut += 7) {
		const char *tmp = write_temp(buf, cut);

		expect_refused(tmp, SAMPAN_ERROR_INVALID, "");
		unlink(tmp);
	}
	free(buf);
}

Test(onnx_import, garbage)
{
	static const char text[] = "this is not an ONNX model\n";
	const char *tmp = write_temp(text, sizeof(text) - 1);

	expect_refused(tmp, SAMPAN_ERROR_INVALID, "malformed or truncated protobuf");
	unlink(tmp);
}

Test(onnx_import, missing_file)
{
	expect_refused("/nonexistent/model.onnx", SAMPAN_ERROR_IO, "cannot open");
}

Test(onnx_import, unsupported_op)
{
	char src[1024];

	snprintf(src, sizeof(src), "%s/test_sigmoid/model.onnx", testdata_dir());
	expect_refused(src, SAMPAN_ERROR_NOT_SUPPORTED, "unsupported op 'Sigmoid'");
}

/* Node tests of the host ops that use what the runtime does not support:
 * refused at load time, naming the op and what is at fault. */
Test(onnx_import, host_op_refusals)
{
	static const struct {
		const char *test, *needle;
	} cases[] = {
	    {"test_maxpool_1d_default", "(MaxPool): attribute 'kernel_shape' has 1 values"},
	    {"test_maxpool_3d_default", "(MaxPool): attribute 'kernel_shape' has 3 values"},
	    {"test_averagepool_1d_default", "(AveragePool): attribute 'kernel_shape' has 1"},
	    {"test_maxpool_with_argmax_2d_precomputed_pads", "(MaxPool): output 1"},
	    {"test_batchnorm_example_training_mode", "(BatchNormalization): output 1"},
	};
	char src[1024];

	for (size_t i = 0; i < COUNT(cases); i++) {
		snprintf(src, sizeof(src), "%s/%s/model.onnx", testdata_dir(), cases[i].test);
		expect_refused(src, SAMPAN_ERROR_NOT_SUPPORTED, cases[i].needle);
	}
}

/* ------------------------------------------------- models built in place */

/* A model of DequantizeLinear / QuantizeLinear nodes over graph inputs
 * x (uint8 [4]) and s (float scalar), with output y (float [4]). */
struct builder {
	Onnx__ModelProto model;
	Onnx__OperatorSetIdProto opset, *opsets[1];
	Onnx__GraphProto graph;
	Onnx__ValueInfoProto vi[3], *inputs[2], *outputs[1];
	Onnx__TypeProto type[3];
	Onnx__TypeProto__Tensor tt[3];
	Onnx__NodeProto nodes[4], *node_ptrs[4];
	char *node_in[4][2], *node_out[4][1];
	size_t n_nodes;
};

static void set_value(struct builder *b, int i, const char *name, int elem_type)
{
	onnx__value_info_proto__init(&b->vi[i]);
	onnx__type_proto__init(&b->type[i]);
	onnx__type_proto__tensor__init(&b->tt[i]);
	b->tt[i].has_elem_type = 1;
	b->tt[i].elem_type = elem_type;
	b->type[i].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	b->type[i].tensor_type = &b->tt[i];
	b->vi[i].name = (char *)name;
	b->vi[i].type = &b->type[i];
}

static void builder_init(struct builder *b, int64_t opset)
{
	memset(b, 0, sizeof(*b));
	onnx__model_proto__init(&b->model);
	onnx__operator_set_id_proto__init(&b->opset);
	onnx__graph_proto__init(&b->graph);
	b->opset.domain = (char *)"";
	b->opset.has_version = 1;
	b->opset.version = opset;
	b->opsets[0] = &b->opset;
	b->model.has_ir_version = 1;
	b->model.ir_version = 8;
	b->model.n_opset_import = 1;
	b->model.opset_import = b->opsets;
	b->model.graph = &b->graph;
	set_value(b, 0, "x", ONNX_DT_UINT8);
	set_value(b, 1, "s", ONNX_DT_FLOAT);
	set_value(b, 2, "y", ONNX_DT_FLOAT);
	b->inputs[0] = &b->vi[0];
	b->inputs[1] = &b->vi[1];
	b->outputs[0] = &b->vi[2];
	b->graph.n_input = 2;
	b->graph.input = b->inputs;
	b->graph.n_output = 1;
	b->graph.output = b->outputs;
	b->graph.node = b->node_ptrs;
}

static void add_node(struct builder *b, const char *op, const char *name, const char *in0,
                     const char *out)
{
	size_t n = b->n_nodes++;
	Onnx__NodeProto *node = &b->nodes[n];

	onnx__node_proto__init(node);
	node->op_type = (char *)op;
	node->name = (char *)name;
	b->node_in[n][0] = (char *)in0;
	b->node_in[n][1] = (char *)"s";
	b->node_out[n][0] = (char *)out;
	node->n_input = 2;
	node->input = b->node_in[n];
	node->n_output = 1;
	node->output = b->node_out[n];
	b->node_ptrs[n] = node;
	b->graph.n_node = b->n_nodes;
}

/* Packs the model into a temporary file; returns its path. */
static const char *builder_write(struct builder *b)
{
	size_t len = onnx__model_proto__get_packed_size(&b->model);
	uint8_t *buf = malloc(len);
	const char *path;

	cr_assert_not_null(buf);
	onnx__model_proto__pack(&b->model, buf);
	path = write_temp(buf, len);
	free(buf);
	return path;
}

Test(onnx_import, built_model_runs)
{
	struct builder b;
	struct onnx_model *m = NULL;
	struct onnx_tensor *in[2], *out[1];
	struct sampan_device *dev = open_dev("cpu");
	const int64_t four = 4;
	char err[ERR_SIZE];
	const char *path;

	builder_init(&b, 13);
	/* Listed consumer first: the importer orders the nodes itself. */
	add_node(&b, "DequantizeLinear", "dq", "q", "y");
	add_node(&b, "QuantizeLinear", "q", "f", "q");
	add_node(&b, "DequantizeLinear", "dq0", "x", "f");
	path = builder_write(&b);
	cr_assert_eq(onnx_model_load(path, &m, err, sizeof(err)), SAMPAN_OK, "%s", err);
	unlink(path);
	cr_assert_eq(m->n_nodes, 3);
	cr_assert_str_eq(m->nodes[0].name, "dq0");
	cr_assert_str_eq(m->nodes[2].name, "dq");
	cr_assert_eq(onnx_tensor_create(&in[0], ONNX_DT_UINT8, 1, &four), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&in[1], ONNX_DT_FLOAT, 0, NULL), SAMPAN_OK);
	memcpy(in[0]->data, (uint8_t[]){0, 1, 2, 255}, 4);
	*(float *)in[1]->data = 0.5f;
	cr_assert_eq(rt_run(m, dev, in, out, NULL, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(((float *)out[0]->data)[3], 127.5f);
	cr_assert_eq(((float *)out[0]->data)[1], 0.5f);
	onnx_tensor_destroy(out[0]);

	/* A fed input of the wrong type is refused, naming it. */
	in[0]->dtype = ONNX_DT_INT8;
	cr_assert_eq(rt_run(m, dev, in, out, NULL, err, sizeof(err)), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "input 'x'") != NULL, "%s", err);
	onnx_tensor_destroy(in[0]);
	onnx_tensor_destroy(in[1]);
	onnx_model_destroy(m);
	sampan_close(dev);
}

Test(onnx_import, cycle)
{
	struct builder b;
	const char *path;

	builder_init(&b, 13);
	add_node(&b, "DequantizeLinear", "dq", "q", "y");
	add_node(&b, "QuantizeLinear", "q", "y", "q");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_INVALID, "cycle through node");
	unlink(path);
}

Test(onnx_import, dangling_input)
{
	struct builder b;
	const char *path;

	builder_init(&b, 13);
	add_node(&b, "DequantizeLinear", "dq", "nowhere", "y");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_INVALID, "input 'nowhere'");
	unlink(path);
}

Test(onnx_import, dangling_output)
{
	struct builder b;
	const char *path;

	builder_init(&b, 13);
	add_node(&b, "DequantizeLinear", "dq", "x", "z");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_INVALID, "graph output 'y'");
	unlink(path);
}

Test(onnx_import, produced_twice)
{
	struct builder b;
	const char *path;

	builder_init(&b, 13);
	add_node(&b, "DequantizeLinear", "a", "x", "y");
	add_node(&b, "DequantizeLinear", "b", "x", "y");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_INVALID, "tensor 'y' is produced twice");
	unlink(path);
}

Test(onnx_import, wrong_input_type)
{
	struct builder b;
	const char *path;

	builder_init(&b, 13);
	/* QuantizeLinear wants float x; x is uint8. */
	add_node(&b, "QuantizeLinear", "q", "x", "y");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_NOT_SUPPORTED, "input 'x' ('x') has type uint8");
	unlink(path);
}

Test(onnx_import, opset_out_of_range)
{
	struct builder b;
	const char *path;

	builder_init(&b, 6);
	add_node(&b, "DequantizeLinear", "dq", "x", "y");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_NOT_SUPPORTED, "opset 6 is not supported");
	unlink(path);
	builder_init(&b, 22);
	add_node(&b, "DequantizeLinear", "dq", "x", "y");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_NOT_SUPPORTED, "opset 22 is not supported");
	unlink(path);
}

Test(onnx_import, tensor_pb_errors)
{
	char src[1024], err[ERR_SIZE];
	struct onnx_tensor *t = NULL;
	size_t len;
	void *buf;
	const char *tmp;

	snprintf(src, sizeof(src), "%s/test_qlinearconv/test_data_set_0/input_0.pb",
	         testdata_dir());
	buf = read_whole(src, &len);
	/* Cut inside raw_data: either malformed or short of the shape. */
	tmp = write_temp(buf, len - 3);
	cr_assert_eq(onnx_tensor_read_pb(tmp, &t, NULL, err, sizeof(err)), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, tmp) != NULL, "%s", err);
	cr_assert_null(t);
	unlink(tmp);
	free(buf);
}

/* ------------------------------------------------ random vs a reference */

/* A model of one node whose inputs are all graph inputs (declared with a
 * type, no shape), as the ONNX node tests are built. */
struct one_node {
	Onnx__ModelProto model;
	Onnx__OperatorSetIdProto opset, *opsets[1];
	Onnx__GraphProto graph;
	Onnx__ValueInfoProto vi[10], *inputs[9], *outputs[1];
	Onnx__TypeProto type[10];
	Onnx__TypeProto__Tensor tt[10];
	Onnx__NodeProto node, *nodes[1];
	char *in_names[9], *out_names[1];
	Onnx__AttributeProto attrs[6], *attr_ptrs[6];
	int64_t ints[6][4];
	char str[6][16];
};

static char *const value_names[] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "y"};

static void one_value(struct one_node *b, int i, int elem_type)
{
	onnx__value_info_proto__init(&b->vi[i]);
	onnx__type_proto__init(&b->type[i]);
	onnx__type_proto__tensor__init(&b->tt[i]);
	b->tt[i].has_elem_type = 1;
	b->tt[i].elem_type = elem_type;
	b->type[i].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	b->type[i].tensor_type = &b->tt[i];
	b->vi[i].name = value_names[i];
	b->vi[i].type = &b->type[i];
}

/* Inputs of types @types[0..n-1] (ONNX_DT_UNKNOWN: omitted). */
static void one_node_init(struct one_node *b, const char *op, int n, const int *types, int out_type)
{
	memset(b, 0, sizeof(*b));
	onnx__model_proto__init(&b->model);
	onnx__operator_set_id_proto__init(&b->opset);
	onnx__graph_proto__init(&b->graph);
	onnx__node_proto__init(&b->node);
	b->opset.domain = (char *)"";
	b->opset.has_version = 1;
	b->opset.version = 13;
	b->opsets[0] = &b->opset;
	b->model.n_opset_import = 1;
	b->model.opset_import = b->opsets;
	b->model.graph = &b->graph;
	for (int i = 0; i < n; i++) {
		b->in_names[i] = types[i] ? value_names[i] : (char *)"";
		if (!types[i])
			continue;
		one_value(b, i, types[i]);
		b->inputs[b->graph.n_input++] = &b->vi[i];
	}
	one_value(b, 9, out_type);
	b->outputs[0] = &b->vi[9];
	b->out_names[0] = value_names[9];
	b->graph.input = b->inputs;
	b->graph.n_output = 1;
	b->graph.output = b->outputs;
	b->node.op_type = (char *)op;
	b->node.n_input = (size_t)n;
	b->node.input = b->in_names;
	b->node.n_output = 1;
	b->node.output = b->out_names;
	b->node.attribute = b->attr_ptrs;
	b->nodes[0] = &b->node;
	b->graph.n_node = 1;
	b->graph.node = b->nodes;
}

static void one_node_ints(struct one_node *b, const char *name, size_t n, const int64_t *v)
{
	size_t i = b->node.n_attribute++;

	onnx__attribute_proto__init(&b->attrs[i]);
	b->attrs[i].name = (char *)name;
	b->attrs[i].has_type = 1;
	b->attrs[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
	memcpy(b->ints[i], v, n * sizeof(*v));
	b->attrs[i].n_ints = n;
	b->attrs[i].ints = b->ints[i];
	b->attr_ptrs[i] = &b->attrs[i];
}

static void one_node_int(struct one_node *b, const char *name, int64_t v)
{
	size_t i = b->node.n_attribute++;

	onnx__attribute_proto__init(&b->attrs[i]);
	b->attrs[i].name = (char *)name;
	b->attrs[i].has_type = 1;
	b->attrs[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
	b->attrs[i].has_i = 1;
	b->attrs[i].i = v;
	b->attr_ptrs[i] = &b->attrs[i];
}

static void one_node_str(struct one_node *b, const char *name, const char *v)
{
	size_t i = b->node.n_attribute++;

	onnx__attribute_proto__init(&b->attrs[i]);
	b->attrs[i].name = (char *)name;
	b->attrs[i].has_type = 1;
	b->attrs[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
	snprintf(b->str[i], sizeof(b->str[i]), "%s", v);
	b->attrs[i].has_s = 1;
	b->attrs[i].s.data = (uint8_t *)b->str[i];
	b->attrs[i].s.len = strlen(v);
	b->attr_ptrs[i] = &b->attrs[i];
}

static struct onnx_model *one_node_load(struct one_node *b)
{
	size_t len = onnx__model_proto__get_packed_size(&b->model);
	uint8_t *buf = malloc(len);
	struct onnx_model *m = NULL;
	char err[ERR_SIZE];

	cr_assert_not_null(buf);
	onnx__model_proto__pack(&b->model, buf);
	cr_assert_eq(onnx_model_load_buffer(buf, len, "built", &m, err, sizeof(err)), SAMPAN_OK,
	             "%s", err);
	free(buf);
	return m;
}

/* splitmix64, seeded from SAMPAN_TEST_SEED or the clock (printed). */
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

static int64_t rnd_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* A tensor of random values over the whole range of @dtype (scales:
 * float in [2^-10, 2^-4)). */
static struct onnx_tensor *rnd_tensor(int dtype, int ndim, const int64_t *dims)
{
	struct onnx_tensor *t = NULL;

	cr_assert_eq(onnx_tensor_create(&t, dtype, ndim, dims), SAMPAN_OK);
	for (size_t i = 0; i < t->count; i++) {
		if (dtype == ONNX_DT_UINT8)
			((uint8_t *)t->data)[i] = (uint8_t)rnd();
		else if (dtype == ONNX_DT_INT8)
			((int8_t *)t->data)[i] = (int8_t)rnd();
		else if (dtype == ONNX_DT_INT32)
			((int32_t *)t->data)[i] = (int32_t)rnd_range(-100000, 100000);
		else
			((float *)t->data)[i] =
			    ldexpf(1.0f + (float)(rnd() % 1000) / 1000.0f, -(int)rnd_range(5, 10));
	}
	return t;
}

static int32_t ival(const struct onnx_tensor *t, size_t i)
{
	if (t->dtype == ONNX_DT_UINT8)
		return ((const uint8_t *)t->data)[i];
	if (t->dtype == ONNX_DT_INT8)
		return ((const int8_t *)t->data)[i];
	return ((const int32_t *)t->data)[i];
}

/* The reference's requantization, written from the ONNX definition. */
static int32_t ref_requant(int64_t acc, float sx, float sw, float sy, int32_t zy, int dtype)
{
	float mult = sx * sw / sy;
	double v = nearbyint((double)(int32_t)(uint32_t)acc * (double)mult) + zy;
	double lo = dtype == ONNX_DT_UINT8 ? 0 : -128, hi = dtype == ONNX_DT_UINT8 ? 255 : 127;

	return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

static void run_one(struct onnx_model *m, const char *devname, struct onnx_tensor **in,
                    struct onnx_tensor **out)
{
	struct sampan_device *dev = open_dev(devname);
	char err[ERR_SIZE];

	cr_assert_eq(rt_run(m, dev, in, out, NULL, err, sizeof(err)), SAMPAN_OK, "%s: %s", devname,
	             err);
	sampan_close(dev);
}

struct dev_only {
	char dev[16];
};

ParameterizedTestParameters(onnx_runtime, conv_random)
{
	static struct dev_only params[] = {{"cpu"}, {"sim"}};

	return cr_make_param_array(struct dev_only, params, COUNT(params));
}

/* QLinearConv and ConvInteger with random geometry (strides, dilations,
 * pads, auto_pad, groups), uint8/int8 operands, per-tensor and
 * per-channel weight zero points and scales, against a direct
 * convolution. */
ParameterizedTest(struct dev_only *p, onnx_runtime, conv_random, .timeout = 300)
{
	int cases = strcmp(p->dev, "cpu") == 0 ? 60 : 15;

	seed_rng("onnx_runtime::conv_random");
	for (int t = 0; t < cases; t++) {
		bool qlinear = t % 2 == 0, per_ch = rnd() & 1, bias = qlinear && (rnd() & 1);
		int xt = rnd() & 1 ? ONNX_DT_UINT8 : ONNX_DT_INT8;
		int wt = rnd() & 1 ? ONNX_DT_UINT8 : ONNX_DT_INT8;
		int yt = rnd() & 1 ? ONNX_DT_UINT8 : ONNX_DT_INT8;
		int64_t group = rnd_range(1, 3), cg = rnd_range(1, 4), mg = rnd_range(1, 5);
		int64_t C = group * cg, M = group * mg, N = rnd_range(1, 2);
		int64_t kh = rnd_range(1, 4), kw = rnd_range(1, 4), sh = rnd_range(1, 3),
		        sw = rnd_range(1, 3);
		int64_t dh = rnd_range(1, 2), dw = rnd_range(1, 2), pads[4];
		int64_t H = rnd_range((kh - 1) * dh + 1, 12), W = rnd_range((kw - 1) * dw + 1, 12);
		int auto_pad = (int)rnd_range(
		    0, 5); /* 0-2: explicit pads, 3 VALID, 4 SAME_UPPER, 5 SAME_LOWER */
		int64_t xd[4] = {N, C, H, W}, wd[4] = {M, cg, kh, kw}, md = M, one = 1;
		int64_t strides[2] = {sh, sw}, dil[2] = {dh, dw}, ph, pw, oh, ow;
		struct onnx_tensor *in[9] = {0}, *out[1];
		struct one_node b;
		struct onnx_model *m;

		for (int i = 0; i < 4; i++)
			pads[i] = auto_pad < 3 ? rnd_range(0, 2) : 0;
		if (auto_pad >= 4) {
			int64_t sz[2] = {H, W}, k[2] = {kh, kw}, s[2] = {sh, sw}, d[2] = {dh, dw},
			        o[2], pb[2];

			for (int a = 0; a < 2; a++) {
				int64_t total;

				o[a] = (sz[a] + s[a] - 1) / s[a];
				total = (o[a] - 1) * s[a] + (k[a] - 1) * d[a] + 1 - sz[a];
				total = total < 0 ? 0 : total;
				pb[a] = auto_pad == 4 ? total / 2 : (total + 1) / 2;
			}
			oh = o[0], ow = o[1], ph = pb[0], pw = pb[1];
		} else {
			ph = pads[0], pw = pads[1];
			oh = (H + pads[0] + pads[2] - (kh - 1) * dh - 1) / sh + 1;
			ow = (W + pads[1] + pads[3] - (kw - 1) * dw - 1) / sw + 1;
		}

		if (qlinear) {
			int types[9] = {
			    xt, ONNX_DT_FLOAT,           xt, wt, ONNX_DT_FLOAT, wt, ONNX_DT_FLOAT,
			    yt, bias ? ONNX_DT_INT32 : 0};

			one_node_init(&b, "QLinearConv", bias ? 9 : 8, types, yt);
			in[0] = rnd_tensor(xt, 4, xd);
			in[1] = rnd_tensor(ONNX_DT_FLOAT, 0, NULL);
			in[2] = rnd_tensor(xt, 0, NULL);
			in[3] = rnd_tensor(wt, 4, wd);
			in[4] = rnd_tensor(ONNX_DT_FLOAT, 1, per_ch ? &md : &one);
			in[5] = rnd_tensor(wt, 1, per_ch ? &md : &one);
			in[6] = rnd_tensor(ONNX_DT_FLOAT, 0, NULL);
			in[7] = rnd_tensor(yt, 0, NULL);
			/* The output scale near the accumulators' so that few saturate. */
			*(float *)in[6]->data *= (float)(cg * kh * kw) * 64.0f;
			if (bias)
				in[8] = rnd_tensor(ONNX_DT_INT32, 1, &md);
		} else {
			int types[4] = {xt, wt, xt, wt};

			one_node_init(&b, "ConvInteger", 4, types, ONNX_DT_INT32);
			in[0] = rnd_tensor(xt, 4, xd);
			in[1] = rnd_tensor(wt, 4, wd);
			in[2] = rnd_tensor(xt, 0, NULL);
			in[3] = rnd_tensor(wt, 1, per_ch ? &md : &one);
		}
		one_node_ints(&b, "strides", 2, strides);
		one_node_ints(&b, "dilations", 2, dil);
		one_node_int(&b, "group", group);
		if (auto_pad < 3)
			one_node_ints(&b, "pads", 4, pads);
		else
			one_node_str(&b, "auto_pad",
			             auto_pad == 3   ? "VALID"
			             : auto_pad == 4 ? "SAME_UPPER"
			                             : "SAME_LOWER");
		m = one_node_load(&b);
		run_one(m, p->dev, in, out);
		cr_assert_eq(out[0]->dims[2], oh, "case %d: output height", t);
		cr_assert_eq(out[0]->dims[3], ow, "case %d: output width", t);

		/* The direct convolution. */
		const struct onnx_tensor *x = in[0], *w = qlinear ? in[3] : in[1];
		const struct onnx_tensor *zx = in[2], *zw = qlinear ? in[5] : in[3];
		for (int64_t n = 0; n < N; n++)
			for (int64_t mo = 0; mo < M; mo++)
				for (int64_t oy = 0; oy < oh; oy++)
					for (int64_t ox = 0; ox < ow; ox++) {
						int64_t g = mo / mg,
						        acc = bias ? ival(in[8], (size_t)mo) : 0;
						int32_t zwm = ival(zw, per_ch ? (size_t)mo : 0);
						size_t oi =
						    (size_t)(((n * M + mo) * oh + oy) * ow + ox);

						for (int64_t c = 0; c < cg; c++)
							for (int64_t ky = 0; ky < kh; ky++)
								for (int64_t kx = 0; kx < kw;
								     kx++) {
									int64_t iy = oy * sh - ph +
									             ky * dh,
									        ix = ox * sw - pw +
									             kx * dw;

									if (iy < 0 || iy >= H ||
									    ix < 0 || ix >= W)
										continue;
									acc +=
									    (int64_t)(ival(
									                  x,
									                  (size_t)(((n * C +
									                             g * cg +
									                             c) *
									                                H +
									                            iy) *
									                               W +
									                           ix)) -
									              ival(zx, 0)) *
									    (ival(
									         w,
									         (size_t)(((mo *
									                        cg +
									                    c) *
									                       kh +
									                   ky) *
									                      kw +
									                  kx)) -
									     zwm);
								}
						if (qlinear) {
							int32_t want = ref_requant(
							    acc, *(float *)in[1]->data,
							    ((float *)in[4]->data)[per_ch ? mo : 0],
							    *(float *)in[6]->data, ival(in[7], 0),
							    yt);

							cr_assert_eq(ival(out[0], oi), want,
							             "case %d on %s: y[%zu] = %d, "
							             "expected %d",
							             t, p->dev, oi,
							             ival(out[0], oi), want);
						} else {
							cr_assert_eq(ival(out[0], oi),
							             (int32_t)(uint32_t)acc,
							             "case %d on %s: y[%zu]", t,
							             p->dev, oi);
						}
					}
		onnx_tensor_destroy(out[0]);
		for (int i = 0; i < 9; i++)
			onnx_tensor_destroy(in[i]);
		onnx_model_destroy(m);
	}
}

ParameterizedTestParameters(onnx_runtime, matmul_random)
{
	static struct dev_only params[] = {{"cpu"}, {"sim"}};

	return cr_make_param_array(struct dev_only, params, COUNT(params));
}

/* QLinearMatMul and MatMulInteger, 2-D and batched (with broadcasting),
 * K up to 300 so that the device tiles, against a naive product. */
ParameterizedTest(struct dev_only *p, onnx_runtime, matmul_random, .timeout = 300)
{
	int cases = strcmp(p->dev, "cpu") == 0 ? 60 : 12;

	seed_rng("onnx_runtime::matmul_random");
	for (int t = 0; t < cases; t++) {
		bool qlinear = t % 2 == 0, per_col = rnd() & 1;
		int at = rnd() & 1 ? ONNX_DT_UINT8 : ONNX_DT_INT8;
		int bt = rnd() & 1 ? ONNX_DT_UINT8 : ONNX_DT_INT8;
		int yt = rnd() & 1 ? ONNX_DT_UINT8 : ONNX_DT_INT8;
		int64_t M = rnd_range(1, 40), K = rnd_range(1, 300), N = rnd_range(1, 40);
		int64_t B = rnd_range(2, 3);
		int shape = (int)rnd_range(0, 3); /* 2Dx2D, 3Dx2D, 3Dx3D, (1,M,K)x(B,K,N) */
		int64_t ba = shape == 0   ? 1
		             : shape == 3 ? 1
		                          : B,
		        bb = shape >= 2 ? B : 1, bo = ba > bb ? ba : bb;
		int64_t ad[3] = {ba, M, K}, bd[3] = {bb, K, N}, one = 1;
		int ra = shape == 0 ? 2 : 3, rb = shape >= 2 ? 3 : 2;
		struct onnx_tensor *in[8] = {0}, *out[1];
		struct one_node b;
		struct onnx_model *m;

		if (qlinear) {
			int types[8] = {at, ONNX_DT_FLOAT, at, bt, ONNX_DT_FLOAT,
			                bt, ONNX_DT_FLOAT, yt};

			one_node_init(&b, "QLinearMatMul", 8, types, yt);
			in[0] = rnd_tensor(at, ra, ad + 3 - ra);
			in[1] = rnd_tensor(ONNX_DT_FLOAT, 1, &one);
			in[2] = rnd_tensor(at, 1, &one);
			in[3] = rnd_tensor(bt, rb, bd + 3 - rb);
			in[4] = rnd_tensor(ONNX_DT_FLOAT, 1, per_col ? &N : &one);
			in[5] = rnd_tensor(bt, 1, per_col ? &N : &one);
			in[6] = rnd_tensor(ONNX_DT_FLOAT, 1, &one);
			in[7] = rnd_tensor(yt, 1, &one);
			*(float *)in[6]->data *= (float)K * 64.0f;
		} else {
			int types[4] = {at, bt, at, bt};

			one_node_init(&b, "MatMulInteger", 4, types, ONNX_DT_INT32);
			in[0] = rnd_tensor(at, ra, ad + 3 - ra);
			in[1] = rnd_tensor(bt, rb, bd + 3 - rb);
			in[2] = rnd_tensor(at, 0, NULL);
			in[3] = rnd_tensor(bt, 1, per_col ? &N : &one);
		}
		m = one_node_load(&b);
		run_one(m, p->dev, in, out);
		cr_assert_eq(out[0]->ndim, ra > rb ? ra : rb);

		const struct onnx_tensor *a = in[0], *bm = qlinear ? in[3] : in[1];
		const struct onnx_tensor *za = in[2], *zb = qlinear ? in[5] : in[3];
		for (int64_t o = 0; o < bo; o++)
			for (int64_t i = 0; i < M; i++)
				for (int64_t j = 0; j < N; j++) {
					int64_t acc = 0, ia = ba == 1 ? 0 : o, ib = bb == 1 ? 0 : o;
					int32_t zbj = ival(zb, per_col ? (size_t)j : 0);
					size_t oi = (size_t)((o * M + i) * N + j);

					for (int64_t k = 0; k < K; k++)
						acc += (int64_t)(ival(a, (size_t)((ia * M + i) * K +
						                                  k)) -
						                 ival(za, 0)) *
						       (ival(bm, (size_t)((ib * K + k) * N + j)) -
						        zbj);
					if (qlinear)
						cr_assert_eq(
						    ival(out[0], oi),
						    ref_requant(
						        acc, *(float *)in[1]->data,
						        ((float *)in[4]->data)[per_col ? j : 0],
						        *(float *)in[6]->data, ival(in[7], 0), yt),
						    "case %d on %s: y[%zu]", t, p->dev, oi);
					else
						cr_assert_eq(
						    ival(out[0], oi), (int32_t)(uint32_t)acc,
						    "case %d on %s: y[%zu]", t, p->dev, oi);
				}
		onnx_tensor_destroy(out[0]);
		for (int i = 0; i < 8; i++)
			onnx_tensor_destroy(in[i]);
		onnx_model_destroy(m);
	}
}

/* Values at the rounding ties and the rails of QuantizeLinear: half to
 * even, saturation, NaN to the zero point. */
Test(onnx_runtime, quantize_ties_and_rails)
{
	static const float xs[] = {0.5f,  1.5f,    2.5f,     -0.5f, -1.5f,
	                           -2.5f, 1000.0f, -1000.0f, NAN,   INFINITY};
	static const int8_t want[] = {0, 2, 2, 0, -2, -2, 127, -128, 0, 127};
	int types[3] = {ONNX_DT_FLOAT, ONNX_DT_FLOAT, ONNX_DT_INT8};
	int64_t n = (int64_t)COUNT(xs);
	struct onnx_tensor *in[3], *out[1];
	struct one_node b;
	struct onnx_model *m;

	one_node_init(&b, "QuantizeLinear", 3, types, ONNX_DT_INT8);
	m = one_node_load(&b);
	cr_assert_eq(onnx_tensor_create(&in[0], ONNX_DT_FLOAT, 1, &n), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&in[1], ONNX_DT_FLOAT, 0, NULL), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&in[2], ONNX_DT_INT8, 0, NULL), SAMPAN_OK);
	memcpy(in[0]->data, xs, sizeof(xs));
	*(float *)in[1]->data = 1.0f;
	run_one(m, "cpu", in, out);
	for (size_t i = 0; i < COUNT(xs); i++)
		cr_assert_eq(((int8_t *)out[0]->data)[i], want[i], "x = %g", (double)xs[i]);
	onnx_tensor_destroy(out[0]);
	for (int i = 0; i < 3; i++)
		onnx_tensor_destroy(in[i]);
	onnx_model_destroy(m);
}

/* Bad values fed at run time: a reasoned error naming the node. */
Test(onnx_runtime, bad_runtime_values)
{
	int types[3] = {ONNX_DT_FLOAT, ONNX_DT_FLOAT, ONNX_DT_UINT8};
	int64_t n = 4, three = 3;
	struct onnx_tensor *in[3], *out[1];
	struct sampan_device *dev = open_dev("cpu");
	struct one_node b;
	struct onnx_model *m;
	char err[ERR_SIZE];

	one_node_init(&b, "QuantizeLinear", 3, types, ONNX_DT_UINT8);
	b.node.name = (char *)"quant";
	m = one_node_load(&b);
	cr_assert_eq(onnx_tensor_create(&in[0], ONNX_DT_FLOAT, 1, &n), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&in[1], ONNX_DT_FLOAT, 0, NULL), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&in[2], ONNX_DT_UINT8, 0, NULL), SAMPAN_OK);
	/* A zero scale. */
	cr_assert_eq(rt_run(m, dev, in, out, NULL, err, sizeof(err)), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "node 'quant' (QuantizeLinear)") && strstr(err, "positive"), "%s",
	          err);
	/* Per-axis parameters that do not match the axis. */
	onnx_tensor_destroy(in[1]);
	cr_assert_eq(onnx_tensor_create(&in[1], ONNX_DT_FLOAT, 1, &three), SAMPAN_OK);
	cr_assert_eq(rt_run(m, dev, in, out, NULL, err, sizeof(err)), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "axis") != NULL, "%s", err);
	for (int i = 0; i < 3; i++)
		onnx_tensor_destroy(in[i]);
	onnx_model_destroy(m);
	sampan_close(dev);
}

/* QLinearMatMul at rounding ties: with a multiplier of exactly 0.5 every
 * odd accumulator is a tie, rounded half to even. */
/* Host ops given shapes that do not fit: an error naming the node, no
 * output. */
Test(onnx_runtime, host_op_bad_shapes)
{
	static const struct {
		const char *op;
		int n, types[2];
		int64_t da[2], db[2];
		const char *needle;
	} cases[] = {
	    {"Add", 2, {ONNX_DT_FLOAT, ONNX_DT_FLOAT}, {2, 3}, {2, 4}, "do not broadcast"},
	    {"Reshape", 2, {ONNX_DT_FLOAT, ONNX_DT_INT64}, {2, 3}, {1, 0}, "cannot reshape"},
	    {"MatMul", 2, {ONNX_DT_FLOAT, ONNX_DT_FLOAT}, {2, 3}, {2, 3}, "inner dimensions"},
	    {"Concat", 2, {ONNX_DT_FLOAT, ONNX_DT_FLOAT}, {2, 3}, {3, 3}, "does not match"},
	};
	struct sampan_device *dev = open_dev("cpu");
	char err[ERR_SIZE];

	for (size_t c = 0; c < COUNT(cases); c++) {
		struct onnx_tensor *in[2], *out[1] = {NULL};
		struct one_node b;
		struct onnx_model *m;
		int64_t shape_len = 1;

		one_node_init(&b, cases[c].op, cases[c].n, cases[c].types, ONNX_DT_FLOAT);
		b.node.name = (char *)"bad";
		if (strcmp(cases[c].op, "Concat") == 0)
			one_node_int(&b, "axis", 1);
		m = one_node_load(&b);
		cr_assert_eq(onnx_tensor_create(&in[0], cases[c].types[0], 2, cases[c].da),
		             SAMPAN_OK);
		if (cases[c].types[1] == ONNX_DT_INT64) {
			cr_assert_eq(onnx_tensor_create(&in[1], ONNX_DT_INT64, 1, &shape_len),
			             SAMPAN_OK);
			((int64_t *)in[1]->data)[0] = 5;
		} else {
			cr_assert_eq(onnx_tensor_create(&in[1], cases[c].types[1], 2, cases[c].db),
			             SAMPAN_OK);
		}
		cr_assert_eq(rt_run(m, dev, in, out, NULL, err, sizeof(err)), SAMPAN_ERROR_INVALID,
		             "%s", cases[c].op);
		cr_assert(strstr(err, "node 'bad'") && strstr(err, cases[c].needle), "%s: %s",
		          cases[c].op, err);
		cr_assert_null(out[0]);
		onnx_tensor_destroy(in[0]);
		onnx_tensor_destroy(in[1]);
		onnx_model_destroy(m);
	}
	sampan_close(dev);
}

/* A pool whose window would take billions of taps: an error, not a hang. */
Test(onnx_runtime, host_op_work_limit)
{
	static const int64_t kernel[2] = {65536, 65536}, pads[4] = {32768, 32768, 32768, 32768};
	static const int64_t one[4] = {1, 1, 1, 1};
	int types[1] = {ONNX_DT_FLOAT};
	struct sampan_device *dev = open_dev("cpu");
	struct onnx_tensor *in[1], *out[1] = {NULL};
	struct one_node b;
	struct onnx_model *m;
	char err[ERR_SIZE];

	one_node_init(&b, "MaxPool", 1, types, ONNX_DT_FLOAT);
	one_node_ints(&b, "kernel_shape", 2, kernel);
	one_node_ints(&b, "pads", 4, pads);
	m = one_node_load(&b);
	cr_assert_eq(onnx_tensor_create(&in[0], ONNX_DT_FLOAT, 4, one), SAMPAN_OK);
	cr_assert_eq(rt_run(m, dev, in, out, NULL, err, sizeof(err)), SAMPAN_ERROR_NOT_SUPPORTED);
	cr_assert(strstr(err, "(MaxPool)") && strstr(err, "limit"), "%s", err);
	cr_assert_null(out[0]);
	onnx_tensor_destroy(in[0]);
	onnx_model_destroy(m);
	sampan_close(dev);
}

Test(onnx_runtime, qlinearmatmul_ties)
{
	int types[8] = {ONNX_DT_INT8,  ONNX_DT_FLOAT, ONNX_DT_INT8,  ONNX_DT_INT8,
	                ONNX_DT_FLOAT, ONNX_DT_INT8,  ONNX_DT_FLOAT, ONNX_DT_INT8};
	static const int8_t av[] = {-5, -3, -1, 1, 3, 5, 7, 127};
	static const int8_t want[] = {-2, -2, 0, 0, 2, 2, 4, 64};
	int64_t ad[2] = {(int64_t)COUNT(av), 1}, bd[2] = {1, 1};
	struct onnx_tensor *in[8], *out[1];
	struct one_node b;
	struct onnx_model *m;

	one_node_init(&b, "QLinearMatMul", 8, types, ONNX_DT_INT8);
	m = one_node_load(&b);
	cr_assert_eq(onnx_tensor_create(&in[0], ONNX_DT_INT8, 2, ad), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&in[3], ONNX_DT_INT8, 2, bd), SAMPAN_OK);
	for (int i = 1; i < 8; i++)
		if (i != 3)
			cr_assert_eq(onnx_tensor_create(&in[i], types[i], 0, NULL), SAMPAN_OK);
	memcpy(in[0]->data, av, sizeof(av));
	*(int8_t *)in[3]->data = 1;
	*(float *)in[1]->data = 1.0f;
	*(float *)in[4]->data = 1.0f;
	*(float *)in[6]->data = 2.0f;
	for (size_t d = 0; d < COUNT(devices); d++) {
		run_one(m, devices[d], in, out);
		for (size_t i = 0; i < COUNT(av); i++)
			cr_assert_eq(((int8_t *)out[0]->data)[i], want[i], "%s: %d * 0.5",
			             devices[d], av[i]);
		onnx_tensor_destroy(out[0]);
	}
	for (int i = 0; i < 8; i++)
		onnx_tensor_destroy(in[i]);
	onnx_model_destroy(m);
}

/* ------------------------------------------------------------ QDQ folding */

#define QB_NODES 8
#define QB_INITS 12

/* A graph of several nodes over initializers: input "x" (declared type,
 * no shape) and output "y". */
struct qdq_builder {
	Onnx__ModelProto model;
	Onnx__OperatorSetIdProto opset, *opsets[1];
	Onnx__GraphProto graph;
	Onnx__ValueInfoProto vi[2], *inputs[1], *outputs[1];
	Onnx__TypeProto type[2];
	Onnx__TypeProto__Tensor tt[2];
	Onnx__NodeProto nodes[QB_NODES], *node_ptrs[QB_NODES];
	char *node_in[QB_NODES][3], *node_out[QB_NODES][1];
	Onnx__AttributeProto attrs[QB_NODES][2], *attr_ptrs[QB_NODES][2];
	int64_t ints[QB_NODES][4];
	Onnx__TensorProto inits[QB_INITS], *init_ptrs[QB_INITS];
	int64_t init_dims[QB_INITS][ONNX_MAX_DIMS];
};

static void qb_value(struct qdq_builder *b, int i, const char *name, int elem_type)
{
	onnx__value_info_proto__init(&b->vi[i]);
	onnx__type_proto__init(&b->type[i]);
	onnx__type_proto__tensor__init(&b->tt[i]);
	b->tt[i].has_elem_type = 1;
	b->tt[i].elem_type = elem_type;
	b->type[i].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	b->type[i].tensor_type = &b->tt[i];
	b->vi[i].name = (char *)name;
	b->vi[i].type = &b->type[i];
}

static void qb_init(struct qdq_builder *b, int x_type, int y_type)
{
	memset(b, 0, sizeof(*b));
	onnx__model_proto__init(&b->model);
	onnx__operator_set_id_proto__init(&b->opset);
	onnx__graph_proto__init(&b->graph);
	b->opset.domain = (char *)"";
	b->opset.has_version = 1;
	b->opset.version = 13;
	b->opsets[0] = &b->opset;
	b->model.n_opset_import = 1;
	b->model.opset_import = b->opsets;
	b->model.graph = &b->graph;
	qb_value(b, 0, "x", x_type);
	qb_value(b, 1, "y", y_type);
	b->inputs[0] = &b->vi[0];
	b->outputs[0] = &b->vi[1];
	b->graph.n_input = 1;
	b->graph.input = b->inputs;
	b->graph.n_output = 1;
	b->graph.output = b->outputs;
	b->graph.node = b->node_ptrs;
	b->graph.initializer = b->init_ptrs;
}

/* Adds @t (borrowed until the model is packed) as initializer @name. */
static void qb_initializer(struct qdq_builder *b, const char *name, const struct onnx_tensor *t)
{
	Onnx__TensorProto *tp = &b->inits[b->graph.n_initializer];

	cr_assert_lt(b->graph.n_initializer, QB_INITS);
	onnx__tensor_proto__init(tp);
	tp->name = (char *)name;
	tp->has_data_type = 1;
	tp->data_type = t->dtype;
	tp->n_dims = (size_t)t->ndim;
	tp->dims = b->init_dims[b->graph.n_initializer];
	for (int d = 0; d < t->ndim; d++)
		tp->dims[d] = t->dims[d];
	/* Little-endian hosts only, as the project's targets are. */
	tp->has_raw_data = 1;
	tp->raw_data.len = t->count * onnx_dtype_size(t->dtype);
	tp->raw_data.data = t->data;
	b->init_ptrs[b->graph.n_initializer++] = tp;
}

/* Adds a node reading up to three values ("" omits one). */
static Onnx__NodeProto *qb_node(struct qdq_builder *b, const char *op, const char *in0,
                                const char *in1, const char *in2, const char *out)
{
	size_t i = b->graph.n_node;
	Onnx__NodeProto *np = &b->nodes[i];

	cr_assert_lt(i, QB_NODES);
	onnx__node_proto__init(np);
	np->op_type = (char *)op;
	np->name = (char *)op;
	b->node_in[i][0] = (char *)in0;
	b->node_in[i][1] = (char *)in1;
	b->node_in[i][2] = (char *)in2;
	np->n_input = in2 ? 3 : in1 ? 2 : 1;
	np->input = b->node_in[i];
	b->node_out[i][0] = (char *)out;
	np->n_output = 1;
	np->output = b->node_out[i];
	np->attribute = b->attr_ptrs[i];
	b->node_ptrs[b->graph.n_node++] = np;
	return np;
}

/* Adds an INT or (n > 1) INTS attribute to the last node. */
static void qb_attr(struct qdq_builder *b, const char *name, size_t n, const int64_t *v)
{
	size_t i = b->graph.n_node - 1;
	Onnx__NodeProto *np = &b->nodes[i];
	Onnx__AttributeProto *a = &b->attrs[i][np->n_attribute];

	onnx__attribute_proto__init(a);
	a->name = (char *)name;
	a->has_type = 1;
	if (n == 1) {
		a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
		a->has_i = 1;
		a->i = v[0];
	} else {
		memcpy(b->ints[i], v, n * sizeof(*v));
		a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
		a->n_ints = n;
		a->ints = b->ints[i];
	}
	b->attr_ptrs[i][np->n_attribute++] = a;
}

static struct onnx_model *qb_load(struct qdq_builder *b)
{
	size_t len = onnx__model_proto__get_packed_size(&b->model);
	uint8_t *buf = malloc(len);
	struct onnx_model *m = NULL;
	char err[ERR_SIZE];

	cr_assert_not_null(buf);
	onnx__model_proto__pack(&b->model, buf);
	cr_assert_eq(onnx_model_load_buffer(buf, len, "qdq", &m, err, sizeof(err)), SAMPAN_OK, "%s",
	             err);
	free(buf);
	return m;
}

enum qdq_kind { QDQ_CONV, QDQ_CONV_RELU, QDQ_MATMUL, QDQ_GEMM_RELU };

struct qdq_param {
	enum qdq_kind kind;
	char dev[16];
};

ParameterizedTestParameters(onnx_qdq, fold)
{
	static struct qdq_param params[4 * COUNT(devices)];
	size_t n = 0;

	for (int k = QDQ_CONV; k <= QDQ_GEMM_RELU; k++)
		for (size_t d = 0; d < COUNT(devices); d++, n++) {
			params[n].kind = (enum qdq_kind)k;
			snprintf(params[n].dev, sizeof(params[n].dev), "%s", devices[d]);
		}
	return cr_make_param_array(struct qdq_param, params, n);
}

/* The tensors of one QDQ model: x (the input), its scale and zero point,
 * weights (int8) with per-channel scales, an int32 bias with its scales,
 * the output's scale and zero point. */
struct qdq_case {
	struct onnx_tensor *x, *sx, *zx, *w, *sw, *b, *sb, *sy, *zy;
	struct onnx_tensor *zeros; /* float (channels) */
	int64_t channels, K;
};

/* Builds the QDQ model of @kind over @c; with @exact_bias the bias scale
 * is sx * sw bit for bit (the pattern folds), else one ulp above (it
 * does not, and runs as float ops; MatMul, which has no bias, gets an Add
 * of zeros instead). */
static struct onnx_model *qdq_model(enum qdq_kind kind, const struct qdq_case *c, bool exact_bias)
{
	static const int64_t zero = 0, one = 1, pads[4] = {1, 1, 1, 1};
	bool relu = kind == QDQ_CONV_RELU || kind == QDQ_GEMM_RELU;
	const char *core = kind == QDQ_MATMUL ? "MatMul" : kind == QDQ_GEMM_RELU ? "Gemm" : "Conv";
	struct qdq_builder b;
	struct onnx_model *m;

	for (int64_t i = 0; i < c->channels; i++) {
		float s = c->sx->count ? ((float *)c->sx->data)[0] * ((float *)c->sw->data)[i] : 0;

		((float *)c->sb->data)[i] = exact_bias ? s : nextafterf(s, INFINITY);
	}
	qb_init(&b, c->x->dtype, c->zy->dtype);
	qb_initializer(&b, "sx", c->sx);
	qb_initializer(&b, "zx", c->zx);
	qb_initializer(&b, "w", c->w);
	qb_initializer(&b, "sw", c->sw);
	qb_initializer(&b, "sy", c->sy);
	qb_initializer(&b, "zy", c->zy);
	qb_node(&b, "DequantizeLinear", "x", "sx", "zx", "xf");
	qb_node(&b, "DequantizeLinear", "w", "sw", NULL, "wf");
	/* Per output channel: Conv's and Gemm's (transB) rows, MatMul's
	 * columns. */
	qb_attr(&b, "axis", 1, kind == QDQ_MATMUL ? &one : &zero);
	if (kind != QDQ_MATMUL) {
		qb_initializer(&b, "b", c->b);
		qb_initializer(&b, "sb", c->sb);
		qb_node(&b, "DequantizeLinear", "b", "sb", NULL, "bf");
		qb_attr(&b, "axis", 1, &zero);
		qb_node(&b, core, "xf", "wf", "bf", relu ? "core" : "pre");
	} else if (exact_bias) {
		qb_node(&b, core, "xf", "wf", NULL, "pre");
	} else {
		/* MatMul then Add of a zero bias: the same values, not folded. */
		qb_initializer(&b, "zeros", c->zeros);
		qb_node(&b, core, "xf", "wf", NULL, "core");
		qb_node(&b, "Add", "core", "zeros", NULL, "pre");
	}
	if (kind == QDQ_CONV || kind == QDQ_CONV_RELU)
		qb_attr(&b, "pads", 4, pads);
	if (kind == QDQ_GEMM_RELU)
		qb_attr(&b, "transB", 1, &one);
	if (relu)
		qb_node(&b, "Relu", "core", NULL, NULL, "pre");
	qb_node(&b, "QuantizeLinear", "pre", "sy", "zy", "y");
	m = qb_load(&b);
	return m;
}

/* A random case of @kind: conv (1, 3, 6, 5) by (4, 3, 3, 3) padded by 1,
 * uint8 in, uint8 out; MatMul (2, 5, 8) x (8, 6), uint8 in, int8 out; Gemm
 * (5, 8) x (6, 8)^T, int8 in and out. Scales keep most outputs off the
 * rails. */
static void qdq_case_create(struct qdq_case *c, enum qdq_kind kind)
{
	static const int64_t xconv[4] = {1, 3, 6, 5}, wconv[4] = {4, 3, 3, 3};
	static const int64_t xmm[3] = {2, 5, 8}, wmm[2] = {8, 6};
	static const int64_t xgemm[2] = {5, 8}, wgemm[2] = {6, 8};
	bool conv = kind == QDQ_CONV || kind == QDQ_CONV_RELU;
	int xt = kind == QDQ_GEMM_RELU ? ONNX_DT_INT8 : ONNX_DT_UINT8;
	int yt = kind == QDQ_CONV || kind == QDQ_CONV_RELU ? ONNX_DT_UINT8 : ONNX_DT_INT8;

	c->channels = conv ? 4 : 6;
	c->K = conv ? 27 : 8;
	c->x = conv                 ? rnd_tensor(xt, 4, xconv)
	       : kind == QDQ_MATMUL ? rnd_tensor(xt, 3, xmm)
	                            : rnd_tensor(xt, 2, xgemm);
	c->w = conv                 ? rnd_tensor(ONNX_DT_INT8, 4, wconv)
	       : kind == QDQ_MATMUL ? rnd_tensor(ONNX_DT_INT8, 2, wmm)
	                            : rnd_tensor(ONNX_DT_INT8, 2, wgemm);
	c->sx = rnd_tensor(ONNX_DT_FLOAT, 0, NULL);
	c->zx = rnd_tensor(xt, 0, NULL);
	c->sw = rnd_tensor(ONNX_DT_FLOAT, 1, &c->channels);
	c->b = rnd_tensor(ONNX_DT_INT32, 1, &c->channels);
	c->sb = rnd_tensor(ONNX_DT_FLOAT, 1, &c->channels);
	cr_assert_eq(onnx_tensor_create(&c->zeros, ONNX_DT_FLOAT, 1, &c->channels), SAMPAN_OK);
	c->sy = rnd_tensor(ONNX_DT_FLOAT, 0, NULL);
	c->zy = rnd_tensor(yt, 0, NULL);
	((float *)c->sy->data)[0] =
	    ((float *)c->sx->data)[0] * ((float *)c->sw->data)[0] * 60.0f * sqrtf((float)c->K);
	for (int64_t i = 0; i < c->channels; i++)
		((int32_t *)c->b->data)[i] = (int32_t)rnd_range(-3000, 3000);
}

static void qdq_case_destroy(struct qdq_case *c)
{
	struct onnx_tensor *all[] = {c->x, c->sx, c->zx, c->w,  c->sw,
	                             c->b, c->sb, c->sy, c->zy, c->zeros};

	for (size_t i = 0; i < COUNT(all); i++)
		onnx_tensor_destroy(all[i]);
}

/* The expected output, from the definitions: int32 accumulation of
 * (x - zx) * w + b, ONNX requantization, Relu as a floor at zy. */
static int32_t qdq_ref(enum qdq_kind kind, const struct qdq_case *c, const struct onnx_tensor *y,
                       size_t i)
{
	int32_t zx = ival(c->zx, 0), zy = ival(c->zy, 0), v;
	int64_t acc = 0, ch;
	bool relu = kind == QDQ_CONV_RELU || kind == QDQ_GEMM_RELU;

	if (kind == QDQ_CONV || kind == QDQ_CONV_RELU) {
		int64_t ox = (int64_t)i % y->dims[3], oy = (int64_t)i / y->dims[3] % y->dims[2];

		ch = (int64_t)i / (y->dims[2] * y->dims[3]) % c->channels;
		for (int64_t ci = 0; ci < 3; ci++)
			for (int64_t ky = 0; ky < 3; ky++)
				for (int64_t kx = 0; kx < 3; kx++) {
					int64_t iy = oy - 1 + ky, ix = ox - 1 + kx;

					if (iy < 0 || iy >= 6 || ix < 0 || ix >= 5)
						continue;
					acc +=
					    (int64_t)(ival(c->x, (size_t)((ci * 6 + iy) * 5 + ix)) -
					              zx) *
					    ival(c->w, (size_t)(((ch * 3 + ci) * 3 + ky) * 3 + kx));
				}
		acc += ival(c->b, (size_t)ch);
	} else {
		int64_t row = (int64_t)i / c->channels;

		ch = (int64_t)i % c->channels;
		for (int64_t k = 0; k < c->K; k++)
			acc += (int64_t)(ival(c->x, (size_t)(row * c->K + k)) - zx) *
			       ival(c->w, (size_t)(kind == QDQ_MATMUL ? k * c->channels + ch
			                                              : ch * c->K + k));
		if (kind == QDQ_GEMM_RELU)
			acc += ival(c->b, (size_t)ch);
	}
	v = ref_requant(acc, ((float *)c->sx->data)[0], ((float *)c->sw->data)[ch],
	                ((float *)c->sy->data)[0], zy, c->zy->dtype);
	return relu && v < zy ? zy : v;
}

/* A QDQ pattern folds into one QLinear node that runs on the device,
 * bit-exact with the definition; the same model with a bias scale that
 * does not fold runs as float ops and agrees within one step. */
ParameterizedTest(struct qdq_param *p, onnx_qdq, fold, .timeout = 120)
{
	struct onnx_tensor *out[1], *fout[1];
	struct onnx_model *m, *fm;
	struct rt_stats st;
	struct qdq_case c;
	char err[ERR_SIZE];
	struct sampan_device *dev;
	bool relu = p->kind == QDQ_CONV_RELU || p->kind == QDQ_GEMM_RELU;
	size_t floored = 0;

	seed_rng("onnx_qdq::fold");
	qdq_case_create(&c, p->kind);
	m = qdq_model(p->kind, &c, true);
	cr_assert_eq(m->n_nodes, 1, "%d nodes left after folding", m->n_nodes);
	cr_assert_eq(m->nodes[0].op, p->kind == QDQ_CONV || p->kind == QDQ_CONV_RELU
	                                 ? ONNX_OP_QLINEARCONV
	                                 : ONNX_OP_QLINEARMATMUL);
	cr_assert(m->nodes[0].folded);
	cr_assert_eq(m->nodes[0].fused_relu, relu);
	fm = qdq_model(p->kind, &c, false);
	cr_assert_eq(fm->n_nodes, relu ? 6 : 5, "%d nodes", fm->n_nodes);

	dev = open_dev(p->dev);
	cr_assert_eq(rt_run(m, dev, &c.x, out, &st, err, sizeof(err)), SAMPAN_OK, "%s", err);
	/* One device job: a batched MatMul's batches are rows of one product. */
	cr_assert_eq(st.gemms, 1u, "the product ran on the device in one job");
	cr_assert_eq(rt_run(fm, dev, &c.x, fout, NULL, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(out[0]->dtype, c.zy->dtype);
	for (size_t i = 0; i < out[0]->count; i++) {
		int32_t got = ival(out[0], i), want = qdq_ref(p->kind, &c, out[0], i);
		int32_t viaf = ival(fout[0], i);

		cr_assert_eq(got, want, "%s: element %zu is %d, expected %d", p->dev, i, got, want);
		cr_assert(abs(got - viaf) <= 1, "element %zu: folded %d, float ops %d", i, got,
		          viaf);
		floored += relu && got == ival(c.zy, 0);
	}
	cr_assert(!relu || floored > 0, "the Relu floor was never exercised");
	onnx_tensor_destroy(out[0]);
	onnx_tensor_destroy(fout[0]);
	onnx_model_destroy(fm);
	onnx_model_destroy(m);
	sampan_close(dev);
	qdq_case_destroy(&c);
}

/* Output @i of a 2x2, stride 1 max pool of the (1, C, H, W) tensor @x. */
static int32_t max2x2(const struct onnx_tensor *x, size_t i)
{
	int64_t h = x->dims[2], w = x->dims[3], ow = w - 1, oh = h - 1;
	int64_t c = (int64_t)i / (oh * ow), oy = (int64_t)i / ow % oh, ox = (int64_t)i % ow;
	int32_t best = INT32_MIN;

	for (int64_t ky = 0; ky < 2; ky++)
		for (int64_t kx = 0; kx < 2; kx++) {
			int32_t v = ival(x, (size_t)((c * h + oy + ky) * w + ox + kx));

			best = v > best ? v : best;
		}
	return best;
}

/* DequantizeLinear -> MaxPool | Flatten -> QuantizeLinear with equal
 * parameters folds into the MaxPool or Flatten on the 8-bit values, which
 * is exactly the float path: the int8 max pool of the input and the
 * input itself. Different parameters do not fold. */
Test(onnx_qdq, passthrough_fold)
{
	static const int64_t xd[4] = {1, 3, 5, 7}, k[2] = {2, 2};
	static const int64_t one = 1;
	struct onnx_tensor *x, *s, *z, *s2, *out[1];
	struct sampan_device *dev = open_dev("cpu");
	char err[ERR_SIZE];

	seed_rng("onnx_qdq::passthrough_fold");
	x = rnd_tensor(ONNX_DT_INT8, 4, xd);
	cr_assert_eq(onnx_tensor_create(&s, ONNX_DT_FLOAT, 0, NULL), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&s2, ONNX_DT_FLOAT, 0, NULL), SAMPAN_OK);
	cr_assert_eq(onnx_tensor_create(&z, ONNX_DT_INT8, 0, NULL), SAMPAN_OK);
	((float *)s->data)[0] = 0.0371f;
	((float *)s2->data)[0] = 0.0372f;
	((int8_t *)z->data)[0] = -7;
	for (int op = 0; op < 2; op++) {
		for (int same = 1; same >= 0; same--) {
			struct qdq_builder b;
			struct onnx_model *m;

			qb_init(&b, ONNX__TENSOR_PROTO__DATA_TYPE__INT8,
			        ONNX__TENSOR_PROTO__DATA_TYPE__INT8);
			qb_initializer(&b, "s", s);
			qb_initializer(&b, "s2", s2);
			qb_initializer(&b, "z", z);
			qb_node(&b, "DequantizeLinear", "x", "s", "z", "xf");
			if (op == 0) {
				qb_node(&b, "MaxPool", "xf", NULL, NULL, "pf");
				qb_attr(&b, "kernel_shape", 2, k);
			} else {
				qb_node(&b, "Flatten", "xf", NULL, NULL, "pf");
				qb_attr(&b, "axis", 1, &one);
			}
			qb_node(&b, "QuantizeLinear", "pf", same ? "s" : "s2", "z", "y");
			m = qb_load(&b);
			cr_assert_eq(m->n_nodes, same ? 1 : 3, "%s: %d nodes",
			             op ? "Flatten" : "MaxPool", m->n_nodes);
			cr_assert_eq(rt_run(m, dev, &x, out, NULL, err, sizeof(err)), SAMPAN_OK,
			             "%s", err);
			cr_assert_eq(out[0]->dtype, ONNX_DT_INT8);
			if (same && op == 1) {
				cr_assert_eq(out[0]->count, x->count);
				cr_assert_eq(memcmp(out[0]->data, x->data, x->count), 0);
			} else if (same) {
				/* 2x2 windows, stride 1: 4 x 6 outputs per channel */
				cr_assert_eq(out[0]->count, (size_t)(3 * 4 * 6));
				for (size_t i = 0; i < out[0]->count; i++)
					cr_assert_eq(ival(out[0], i), max2x2(x, i), "output %zu",
					             i);
			}
			onnx_tensor_destroy(out[0]);
			onnx_model_destroy(m);
		}
	}
	onnx_tensor_destroy(x);
	onnx_tensor_destroy(s);
	onnx_tensor_destroy(s2);
	onnx_tensor_destroy(z);
	sampan_close(dev);
}

/* ------------------------------------------------------------ sampan run */

#ifndef SAMPAN_CLI
#define SAMPAN_CLI "build/sampan"
#endif

static const char *npy_descr(int dtype)
{
	switch (dtype) {
	case ONNX_DT_UINT8:
		return "|u1";
	case ONNX_DT_INT8:
		return "|i1";
	case ONNX_DT_INT32:
		return "<i4";
	default:
		return "<f4";
	}
}

/* Runs the CLI with @args (NULL-terminated); the result in @res. */
static int run_cli(const char *const *args, struct spawn_result *res)
{
	char *argv[32];
	int n = 0;

	argv[n++] = (char *)SAMPAN_CLI;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	return spawn_run(argv, NULL, 120, res);
}

ParameterizedTestParameters(onnx_cli, run_node_test)
{
	static struct dev_only params[] = {{"cpu"}, {"sim"}};

	return cr_make_param_array(struct dev_only, params, COUNT(params));
}

TestSuite(onnx_cli, .timeout = 120);

/* `sampan run` on the QLinearConv node test: .npy inputs (uint8, float32
 * scalars) in, the output as .npy with its type and shape, equal to the
 * expected tensor; --json figures. */
ParameterizedTest(struct dev_only *p, onnx_cli, run_node_test)
{
	char dir[1024], path[1100], pbpath[1100], files[8][64], outpath[64], err[256];
	const char *args[32];
	struct spawn_result res;
	struct onnx_tensor *want;
	struct npyt_array arr;
	int n = 0;

	snprintf(dir, sizeof(dir), "%.900s/test_qlinearconv", testdata_dir());
	snprintf(path, sizeof(path), "%s/model.onnx", dir);
	args[n++] = "run";
	args[n++] = path;
	args[n++] = "-d";
	args[n++] = p->dev;
	for (int i = 0; i < 8; i++) {
		char pb[1200];
		struct onnx_tensor *t;
		long shape[8];

		snprintf(pb, sizeof(pb), "%s/test_data_set_0/input_%d.pb", dir, i);
		t = read_pb(pb);
		for (int d = 0; d < t->ndim; d++)
			shape[d] = (long)t->dims[d];
		snprintf(files[i], sizeof(files[i]), "/tmp/sampan-onnx-in%d-%d.npy", i,
		         (int)getpid());
		cr_assert_eq(npyt_write(files[i], npy_descr(t->dtype), t->ndim, shape, t->data,
		                        t->count * onnx_dtype_size(t->dtype)),
		             0);
		args[n++] = "--input";
		args[n++] = files[i];
		onnx_tensor_destroy(t);
	}
	snprintf(outpath, sizeof(outpath), "/tmp/sampan-onnx-out-%d.npy", (int)getpid());
	args[n++] = "--out";
	args[n++] = outpath;
	args[n++] = "--json";
	args[n] = NULL;
	cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
	cr_assert(strstr(res.out, "\"gemms\": 1") != NULL, "%s", res.out);
	cr_assert(strstr(res.out, "\"dtype\": \"uint8\"") != NULL, "%s", res.out);
	spawn_result_free(&res);

	snprintf(pbpath, sizeof(pbpath), "%s/test_data_set_0/output_0.pb", dir);
	want = read_pb(pbpath);
	cr_assert_eq(npyt_read(outpath, &arr, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(arr.descr, "|u1");
	cr_assert_eq(arr.ndim, 4);
	for (int d = 0; d < 4; d++)
		cr_assert_eq(arr.shape[d], want->dims[d]);
	cr_assert_eq(arr.bytes, want->count);
	cr_assert(memcmp(arr.data, want->data, want->count) == 0);
	free(arr.data);
	onnx_tensor_destroy(want);
	unlink(outpath);

	/* By name, in another order: the same result. */
	n = 4;
	static const char *const names[] = {"x",       "x_scale",     "x_zero_point",
	                                    "w",       "w_scale",     "w_zero_point",
	                                    "y_scale", "y_zero_point"};
	static char named[8][128];
	for (int i = 7; i >= 0; i--) {
		snprintf(named[i], sizeof(named[i]), "%s=%s", names[i], files[i]);
		args[n++] = "-i";
		args[n++] = named[i];
	}
	args[n] = NULL;
	cr_assert_eq(run_cli(args, &res), 0, "exit %d: %s", res.status, res.err);
	cr_assert(strstr(res.out, "output y: uint8 [1, 1, 7, 7]") != NULL, "%s", res.out);
	spawn_result_free(&res);
	for (int i = 0; i < 8; i++)
		unlink(files[i]);
}

Test(onnx_cli, run_errors)
{
	char relu[1024], conv[1024];
	struct spawn_result res;

	snprintf(relu, sizeof(relu), "%.900s/test_sigmoid/model.onnx", testdata_dir());
	snprintf(conv, sizeof(conv), "%.900s/test_qlinearconv/model.onnx", testdata_dir());

	/* Unsupported op: exit 1, named, before any input is read. */
	cr_assert_eq(
	    run_cli((const char *[]){"run", relu, "-d", "cpu", "--input", "/nonexistent.npy", NULL},
	            &res),
	    1);
	cr_assert(strstr(res.err, "unsupported op 'Sigmoid'") != NULL, "%s", res.err);
	spawn_result_free(&res);

	/* No model, unknown option: usage errors. */
	cr_assert_eq(run_cli((const char *[]){"run", NULL}, &res), 2);
	cr_assert(strstr(res.err, "no model") != NULL, "%s", res.err);
	spawn_result_free(&res);
	cr_assert_eq(run_cli((const char *[]){"run", conv, "--bogus", NULL}, &res), 2);
	spawn_result_free(&res);

	/* Inputs missing: usage error listing them. */
	cr_assert_eq(run_cli((const char *[]){"run", conv, "-d", "cpu", NULL}, &res), 2);
	cr_assert(strstr(res.err, "no --input for graph input 'x'") != NULL, "%s", res.err);
	cr_assert(strstr(res.err, "y_zero_point, uint8 []") != NULL, "%s", res.err);
	spawn_result_free(&res);

	/* A file that is not .npy: exit 1 naming it. */
	cr_assert_eq(run_cli((const char *[]){"run", conv, "-d", "cpu", "-i", relu, "-i",
	                                      relu,  "-i", relu, "-i",  relu, "-i", relu,
	                                      "-i",  relu, "-i", relu,  "-i", relu, NULL},
	                     &res),
	             1);
	cr_assert(strstr(res.err, relu) != NULL && strstr(res.err, "not a .npy") != NULL, "%s",
	          res.err);
	spawn_result_free(&res);

	/* Garbage as the model: exit 1 naming it. */
	const char *garbage = write_temp("garbage\n", 8);
	cr_assert_eq(run_cli((const char *[]){"run", garbage, NULL}, &res), 1);
	cr_assert(strstr(res.err, garbage) != NULL, "%s", res.err);
	spawn_result_free(&res);
	unlink(garbage);
}

/* ----------------------------------------------------------- PGM images */

/* Writes a PGM file (header text, then @n pixel bytes); returns its path
 * (static, one at a time). */
static const char *write_pgm(const char *header, const uint8_t *pix, size_t n)
{
	static uint8_t buf[256];
	size_t len = strlen(header);

	cr_assert_leq(len + n, sizeof(buf));
	memcpy(buf, header, len);
	memcpy(buf + len, pix, n);
	return write_temp(buf, len + n);
}

Test(onnx_image, pgm_to_float_and_uint8)
{
	static const uint8_t pix[6] = {0, 51, 255, 7, 128, 200};
	struct onnx_value decl = {
	    .name = (char *)"x", .dtype = ONNX_DT_FLOAT, .ndim = 4, .dims = {1, 1, 2, 3}};
	struct onnx_tensor *t = NULL;
	char err[ERR_SIZE];
	const char *path = write_pgm("P5\n# a comment\n3 2\n255\n", pix, 6);

	cr_assert(onnx_image_is_pgm(path));
	cr_assert_eq(onnx_image_read_pgm(path, &decl, 255.0f, &t, err, sizeof(err)), SAMPAN_OK,
	             "%s", err);
	cr_assert_eq(t->ndim, 4);
	cr_assert_eq(t->dims[2], 2);
	cr_assert_eq(t->dims[3], 3);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(((float *)t->data)[i], (float)pix[i] / 255.0f);
	onnx_tensor_destroy(t);

	/* uint8 input, symbolic batch, (N, H, W): the pixels themselves. */
	decl.dtype = ONNX_DT_UINT8;
	decl.ndim = 3;
	decl.dims[0] = -1;
	decl.dims[1] = 2;
	decl.dims[2] = 3;
	cr_assert_eq(onnx_image_read_pgm(path, &decl, 255.0f, &t, err, sizeof(err)), SAMPAN_OK,
	             "%s", err);
	cr_assert(memcmp(t->data, pix, 6) == 0);
	onnx_tensor_destroy(t);
	unlink(path);
}

Test(onnx_image, bad_pgm)
{
	static const uint8_t pix[6] = {0, 1, 2, 3, 4, 5};
	static const struct {
		const char *header;
		size_t n;
		int code;
		const char *needle;
	} cases[] = {
	    {"P2\n3 2\n255\n", 6, SAMPAN_ERROR_INVALID, "no P5 magic"},
	    {"P5\n3 2\n255\n", 5, SAMPAN_ERROR_INVALID, "truncated"},
	    {"P5\n3 2\n65535\n", 6, SAMPAN_ERROR_NOT_SUPPORTED, "16-bit"},
	    {"P5\n3 0\n255\n", 6, SAMPAN_ERROR_INVALID, "bad PGM header"},
	    {"P5\n99999 99999\n255\n", 6, SAMPAN_ERROR_INVALID, "bad PGM header"},
	    {"P5\n3 x\n255\n", 6, SAMPAN_ERROR_INVALID, "bad PGM header"},
	    {"P5\n3 2\n4\n", 6, SAMPAN_ERROR_INVALID, "above maxval"},
	    {"P5\n2 3\n255\n", 6, SAMPAN_ERROR_INVALID, "does not fit input 'x'"},
	};
	struct onnx_value decl = {
	    .name = (char *)"x", .dtype = ONNX_DT_FLOAT, .ndim = 4, .dims = {1, 1, 2, 3}};
	struct onnx_tensor *t = NULL;
	char err[ERR_SIZE];

	for (size_t i = 0; i < COUNT(cases); i++) {
		const char *path = write_pgm(cases[i].header, pix, cases[i].n);

		cr_assert_eq(onnx_image_read_pgm(path, &decl, 255.0f, &t, err, sizeof(err)),
		             cases[i].code, "%s: %s", cases[i].header, err);
		cr_assert(strstr(err, path) && strstr(err, cases[i].needle), "%s", err);
		cr_assert_null(t);
		unlink(path);
	}
	/* An int8 input takes no image. */
	decl.dtype = ONNX_DT_INT8;
	const char *path = write_pgm("P5\n3 2\n255\n", pix, 6);
	cr_assert_eq(onnx_image_read_pgm(path, &decl, 255.0f, &t, err, sizeof(err)),
	             SAMPAN_ERROR_INVALID);
	cr_assert(strstr(err, "float or uint8") != NULL, "%s", err);
	unlink(path);
}

/* `sampan run` on an image: a Flatten model makes every pixel a class, so
 * the top classes are the brightest pixels, scored pixel / --pixel-max. */
Test(onnx_cli, run_pgm_top_k)
{
	static const uint8_t pix[6] = {10, 250, 30, 200, 0, 90};
	int types[1] = {ONNX_DT_FLOAT};
	struct spawn_result res;
	struct one_node b;
	char model[64], img[64];
	uint8_t *buf;
	size_t len;

	one_node_init(&b, "Flatten", 1, types, ONNX_DT_FLOAT);
	len = onnx__model_proto__get_packed_size(&b.model);
	buf = malloc(len);
	cr_assert_not_null(buf);
	onnx__model_proto__pack(&b.model, buf);
	snprintf(model, sizeof(model), "%s", write_temp(buf, len));
	free(buf);
	snprintf(img, sizeof(img), "%s", write_pgm("P5 3 2 255\n", pix, 6));

	cr_assert_eq(run_cli((const char *[]){"run", model, "-d", "cpu", "-i", img, NULL}, &res), 0,
	             "%s", res.err);
	cr_assert(strstr(res.out, "top 5 of output y:") != NULL, "%s", res.out);
	cr_assert(strstr(res.out, "1. class 1  score 0.980392") != NULL, "%s", res.out);
	cr_assert(strstr(res.out, "2. class 3  score 0.784314") != NULL, "%s", res.out);
	cr_assert(strstr(res.out, "5. class 0  score 0.0392157") != NULL, "%s", res.out);
	spawn_result_free(&res);

	cr_assert_eq(run_cli((const char *[]){"run", model, "-d", "cpu", "-i", img, "--top", "2",
	                                      "--pixel-max", "1", "--json", NULL},
	                     &res),
	             0, "%s", res.err);
	{
		const char *top = strstr(res.out, "\"top\"");
		const char *c1 = top ? strstr(top, "\"class\": 1,") : NULL;
		const char *s1 = c1 ? strstr(c1, "\"score\": 250") : NULL;
		const char *c3 = s1 ? strstr(s1, "\"class\": 3,") : NULL;

		cr_assert(c3 && strstr(c3, "\"score\": 200") && !strstr(c3, "\"class\": 5"), "%s",
		          res.out);
	}
	spawn_result_free(&res);

	cr_assert_eq(run_cli((const char *[]){"run", model, "-i", img, "--top", "x", NULL}, &res),
	             2);
	spawn_result_free(&res);
	unlink(img);
	unlink(model);
}

/* ------------------------------------------------------------- sessions */

ParameterizedTestParameters(onnx_session, resident_batched)
{
	static struct dev_only params[] = {{"cpu"}, {"sim"}};

	return cr_make_param_array(struct dev_only, params, COUNT(params));
}

/* A folded QDQ convolution on a session: its weights are uploaded once
 * (one handle, card memory in use grows by their size and shrinks back),
 * and a batch of 4 images runs as one device job whose output is, image
 * for image, bit for bit the output of runs of one image each. */
ParameterizedTest(struct dev_only *p, onnx_session, resident_batched, .timeout = 300)
{
	static const int64_t xdims[4] = {4, 3, 6, 5};
	struct onnx_tensor *xb, *yb[1], *x1, *y1[1];
	struct sampan_info before, during, after;
	struct rt_session *s = NULL;
	struct sampan_device *dev;
	struct onnx_model *m;
	struct qdq_case c;
	struct rt_stats st;
	char err[ERR_SIZE];
	size_t img;

	seed_rng("onnx_session::resident_batched");
	qdq_case_create(&c, QDQ_CONV);
	m = qdq_model(QDQ_CONV, &c, true);
	cr_assert_eq(m->n_nodes, 1);
	dev = open_dev(p->dev);
	cr_assert_eq(sampan_get_info(dev, &before), SAMPAN_OK);
	cr_assert_eq(rt_session_create(m, dev, &s, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(rt_session_weight_count(s), 1);
	cr_assert_geq(rt_session_weight_bytes(s), 4 * 27, "the int8 weights at least");
	cr_assert_eq(sampan_get_info(dev, &during), SAMPAN_OK);
	cr_assert_geq(during.mem_used, before.mem_used + rt_session_weight_bytes(s));
	rt_session_set_batch(s, 1);
	xb = rnd_tensor(c.x->dtype, 4, xdims);
	cr_assert_eq(rt_session_run(s, &xb, yb, &st, NULL, err, sizeof(err)), SAMPAN_OK, "%s", err);
	cr_assert_eq(st.gemms, 1u, "the batch ran as one device job");
	cr_assert_eq(st.batch, 4);
	cr_assert_eq(yb[0]->dims[0], 4);
	img = yb[0]->count / 4;
	for (int k = 0; k < 4; k++) {
		memcpy(c.x->data, (char *)xb->data + (size_t)k * c.x->count, c.x->count);
		x1 = c.x;
		cr_assert_eq(rt_session_run(s, &x1, y1, NULL, NULL, err, sizeof(err)), SAMPAN_OK,
		             "%s", err);
		cr_assert_eq(y1[0]->count, img);
		cr_assert(memcmp(y1[0]->data, (char *)yb[0]->data + (size_t)k * img, img) == 0,
		          "image %d of the batch differs from its own run", k);
		onnx_tensor_destroy(y1[0]);
	}
	rt_session_destroy(s);
	cr_assert_eq(sampan_get_info(dev, &after), SAMPAN_OK);
	cr_assert_eq(after.mem_used, before.mem_used, "the weights' card memory is freed");
	onnx_tensor_destroy(yb[0]);
	onnx_tensor_destroy(xb);
	onnx_model_destroy(m);
	qdq_case_destroy(&c);
	sampan_close(dev);
}

/* A model whose weights do not fit the card fails when the session is
 * created, saying how much they need. */
Test(onnx_session, weights_larger_than_card)
{
	static const int64_t K = 200000, xd[2] = {5, 200000}, wd[2] = {6, 200000};
	struct sampan_device *dev = open_dev("cpu:mem=1");
	struct rt_session *s = NULL;
	struct onnx_model *m;
	struct qdq_case c;
	char err[ERR_SIZE];
	int ret;

	seed_rng("onnx_session::weights_larger_than_card");
	qdq_case_create(&c, QDQ_GEMM_RELU);
	onnx_tensor_destroy(c.x);
	onnx_tensor_destroy(c.w);
	c.x = rnd_tensor(ONNX_DT_INT8, 2, xd);
	c.w = rnd_tensor(ONNX_DT_INT8, 2, wd);
	c.K = K;
	m = qdq_model(QDQ_GEMM_RELU, &c, true);
	cr_assert_eq(m->nodes[0].op, ONNX_OP_QLINEARMATMUL);
	ret = rt_session_create(m, dev, &s, err, sizeof(err));
	cr_assert_eq(ret, SAMPAN_ERROR_DEVICE_MEM, "%d: %s", ret, err);
	cr_assert_null(s);
	cr_assert(strstr(err, "cannot keep its weights on the device") != NULL, "%s", err);
	cr_assert(strstr(err, "1200024 bytes in all") != NULL, "%s", err);
	onnx_model_destroy(m);
	qdq_case_destroy(&c);
	sampan_close(dev);
}
