/*
 * test_onnx.c - the ONNX importer and runtime: the ONNX backend node tests
 * of the quantized ops (Debian's libonnx-testdata) bit-exact on cpu and
 * sim, and models that must be refused at load time with a message naming
 * the file and what is wrong (truncated, garbage, unsupported op or opset,
 * cycles, dangling references, type mismatches).
 *
 * SAMPAN_ONNX_TESTDATA overrides the node test directory.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx.pb-c.h"
#include "onnx/onnx_model.h"
#include "runtime/runtime.h"
#include "sampan.h"

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
	"test_qlinearmatmul_2D", "test_qlinearmatmul_3D",     "test_matmulinteger",
	"test_qlinearconv",      "test_convinteger_with_padding", "test_convinteger_without_padding",
	"test_basic_convinteger", "test_quantizelinear",      "test_quantizelinear_axis",
	"test_dequantizelinear", "test_dequantizelinear_axis",
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

/* Runs every test_data_set_* of one node test and compares each output
 * element for element (floats bit for bit). Returns the number of sets. */
static int run_node_test(const char *dir, const char *devname)
{
	struct sampan_device *dev = open_dev(devname);
	struct onnx_model *m = NULL;
	char path[2048], err[ERR_SIZE];
	int sets = 0, ret;

	snprintf(path, sizeof(path), "%s/model.onnx", dir);
	ret = onnx_model_load(path, &m, err, sizeof(err));
	cr_assert_eq(ret, SAMPAN_OK, "%s", err);
	for (;; sets++) {
		struct onnx_tensor *in[16] = {0}, *out[16] = {0};

		snprintf(path, sizeof(path), "%s/test_data_set_%d", dir, sets);
		if (access(path, F_OK) != 0)
			break;
		cr_assert_leq(m->n_inputs, 16);
		for (int i = 0; i < m->n_inputs; i++) {
			snprintf(path, sizeof(path), "%s/test_data_set_%d/input_%d.pb", dir, sets, i);
			in[i] = read_pb(path);
		}
		ret = rt_run(m, dev, in, out, NULL, err, sizeof(err));
		cr_assert_eq(ret, SAMPAN_OK, "%s on %s: %s", dir, devname, err);
		for (int o = 0; o < m->n_outputs; o++) {
			struct onnx_tensor *want;
			size_t item;

			snprintf(path, sizeof(path), "%s/test_data_set_%d/output_%d.pb", dir, sets, o);
			want = read_pb(path);
			item = onnx_dtype_size(want->dtype);
			cr_assert_eq(out[o]->dtype, want->dtype, "%s: output %d is %s, expected %s",
				     path, o, onnx_dtype_name(out[o]->dtype),
				     onnx_dtype_name(want->dtype));
			cr_assert_eq(out[o]->ndim, want->ndim, "%s: rank", path);
			for (int d = 0; d < want->ndim; d++)
				cr_assert_eq(out[o]->dims[d], want->dims[d], "%s: dim %d", path, d);
			for (size_t i = 0; i < want->count; i++)
				cr_assert(memcmp((char *)out[o]->data + i * item,
						 (char *)want->data + i * item, item) == 0,
					  "%s on %s: element %zu differs", path, devname, i);
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

ParameterizedTest(struct node_param *p, onnx_conformance, node)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%.900s/%s", testdata_dir(), p->test);
	cr_assert_gt(run_node_test(dir, p->dev), 0, "%s has no test_data_set_0", dir);
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

	snprintf(src, sizeof(src), "%s/test_relu/model.onnx", testdata_dir());
	expect_refused(src, SAMPAN_ERROR_NOT_SUPPORTED, "unsupported op 'Relu'");
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

	builder_init(&b, 9);
	add_node(&b, "DequantizeLinear", "dq", "x", "y");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_NOT_SUPPORTED, "opset 9 is not supported");
	unlink(path);
	builder_init(&b, 18);
	add_node(&b, "DequantizeLinear", "dq", "x", "y");
	path = builder_write(&b);
	expect_refused(path, SAMPAN_ERROR_NOT_SUPPORTED, "opset 18 is not supported");
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
