/*
 * quant.h - post-training int8 quantization of float ONNX models
 * (`sampan quantize`).
 *
 * Two steps. Calibration (calib.c) runs sample inputs through the float
 * model on a device and gathers, for every float value of the graph, its
 * minimum, maximum and histograms; a method (min/max, percentile or
 * entropy) turns them into a range. The rewrite (quant.c) works on the
 * ModelProto itself: BatchNormalization folded into the Conv before it,
 * Relu and Clip(0, hi) fused into the range of the output they feed,
 * per-output-channel symmetric int8 weights, int32 biases, and
 * QuantizeLinear/DequantizeLinear pairs on the activations: a standard
 * QDQ model, whose Conv, Gemm and MatMul nodes the importer folds onto the
 * device (onnx_model.h). host/onnx/README.md documents the choices.
 */
#ifndef SAMPAN_HOST_QUANT_H
#define SAMPAN_HOST_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onnx/onnx_model.h"
#include "sampan.h"

/* How a calibrated range is chosen. */
enum quant_method {
	QUANT_MINMAX,     /* the smallest and largest value seen */
	QUANT_PERCENTILE, /* the (100 - p)th and pth percentiles */
	QUANT_ENTROPY,    /* the |x| threshold of least KL divergence (TensorRT's) */
};

/* Name of a method ("minmax", ...). */
const char *quant_method_name(enum quant_method m);

/* Parses a method name; returns false if unknown. */
bool quant_method_parse(const char *name, enum quant_method *m);

/* ------------------------------------------------------------- histograms */

/* Bins of the calibration histograms. */
#define QUANT_HIST_BINS 2048

/* A histogram of values over [lo, hi] in QUANT_HIST_BINS equal bins
 * (values outside go to the end bins). */
struct quant_hist {
	double lo, hi;
	uint64_t total;
	uint64_t bins[QUANT_HIST_BINS];
};

void quant_hist_init(struct quant_hist *h, double lo, double hi);

/* Adds @n values (NaN ignored). With @absolute, |x| is counted. */
void quant_hist_add(struct quant_hist *h, const float *x, size_t n, bool absolute);

/* The range [*lo, *hi] holding all but (100 - @pct)% of the values at
 * either end (@pct in (50, 100]); the empty histogram gives [0, 0]. */
void quant_hist_percentile(const struct quant_hist *h, double pct, double *lo, double *hi);

/* The threshold T of a histogram of |x| that minimizes the KL divergence
 * between the values clipped to [0, T] and the same quantized to @levels
 * levels (TensorRT's entropy calibration); the histogram's end if empty. */
double quant_hist_entropy(const struct quant_hist *h, int levels);

/* ------------------------------------------------------------ calibration */

/* Statistics of the float values of one model over calibration runs. */
struct quant_calib;

/* A float value's figures. */
struct quant_stats {
	bool seen;                      /* a float tensor was observed */
	double min, max;                /* over every run */
	uint64_t count;                 /* elements seen */
	int ndim;                       /* rank of the last tensor seen */
	struct quant_hist *hist, *absh; /* of x over [min, max], of |x| (pass 2) */
};

/* Creates the statistics of @m (borrowed; it must outlive @c). */
int quant_calib_create(const struct onnx_model *m, struct quant_calib **c);

void quant_calib_destroy(struct quant_calib *c);

/* Runs one sample (@inputs: one tensor per graph input, borrowed) through
 * the model on @dev, for calibration pass @pass: 1 gathers min and max,
 * 2 (after every sample has had pass 1) the histograms over them, which
 * the percentile and entropy methods need. Returns a sampan_error; on
 * failure @err names the node or input at fault. */
int quant_calib_run(struct quant_calib *c, struct sampan_device *dev, int pass,
                    struct onnx_tensor *const *inputs, char *err, size_t err_size);

/* Runs @n_samples inputs through the model on @dev: @samples holds
 * n_samples * m->n_inputs tensors, sample after sample (borrowed). With
 * @histograms the samples run twice (min/max, then histograms over them),
 * as the percentile and entropy methods need. Returns a sampan_error; on
 * failure @err names the sample and node at fault. */
int quant_calibrate(struct quant_calib *c, struct sampan_device *dev, int n_samples,
                    struct onnx_tensor *const *samples, bool histograms, char *err,
                    size_t err_size);

/* The figures of model value @value, or NULL if it is out of range. */
const struct quant_stats *quant_calib_stats(const struct quant_calib *c, int value);

/* The range of a value by @method (@pct for QUANT_PERCENTILE). Returns
 * false if the value was not seen as float, or the method needs
 * histograms that were not gathered. */
bool quant_calib_range(const struct quant_calib *c, int value, enum quant_method method, double pct,
                       float *lo, float *hi);

/* ------------------------------------------------------------- parameters */

/* Asymmetric int8 parameters of the range [lo, hi], widened to hold 0:
 * scale = (hi - lo) / 255, zero point rounded and kept in [-128, 127] (a
 * range starting at 0 gets -128: its low end is exact). A range of width 0
 * (only zeros seen) gets scale 1 and zero point -128; a non-finite one
 * scale 1 and zero point 0. */
void quant_act_params(float lo, float hi, float *scale, int8_t *zero_point);

/* Symmetric int8 per-channel weights: @w holds @channels slices along
 * @axis of a tensor of @ndim @dims; scale[c] = max |w| / 127 over
 * channel c (1 for an all-zero channel), q = rint(w / scale) in [-127, 127].
 * @q has as many elements as @w, @scale @channels. */
void quant_weights(const float *w, int ndim, const int64_t *dims, int axis, int8_t *q,
                   float *scale);

/* The int32 bias of a quantized product: rint(b / (sx * sw)) with the
 * scale computed in float as the importer does, saturated to int32.
 * Returns whether it had to saturate. */
bool quant_bias(float b, float sx, float sw, int32_t *q);

/* ---------------------------------------------------------------- rewrite */

struct quant_options {
	enum quant_method method;
	double percentile; /* QUANT_PERCENTILE: 99.99 when 0 */
};

/* One line of the per-layer summary. */
enum quant_entry_kind { QUANT_ACT, QUANT_WEIGHT, QUANT_BIAS };

struct quant_entry {
	enum quant_entry_kind kind;
	char *tensor;     /* the value, weight or bias quantized */
	char *node;       /* the node reading it (weights, biases) or producing it */
	float lo, hi;     /* activation: range; weight: -max|w|, max|w|; bias: min, max */
	float scale;      /* activation scale; weights, biases: smallest channel scale */
	float scale_max;  /* weights, biases: largest channel scale */
	int zero_point;   /* activations */
	int64_t channels; /* weights, biases: 1 per tensor */
	bool saturated;   /* bias: some value did not fit in int32 */
};

struct quant_report {
	int n_entries;
	struct quant_entry *entries;
	int bn_folded;    /* BatchNormalization nodes folded into a Conv */
	int act_fused;    /* Relu and Clip nodes fused into a range */
	int qdq_pairs;    /* activations given QuantizeLinear/DequantizeLinear */
	int cores;        /* Conv, Gemm and MatMul nodes of the result */
	int cores_device; /* of those, folded onto the device by the importer */
	int64_t opset;    /* of the result */
};

void quant_report_destroy(struct quant_report *r);

/*
 * Quantizes the float model serialized in @data (@name for messages) with
 * the ranges of @c, gathered on @m, the same model as loaded by
 * onnx_model_load_buffer. On success @out receives the serialized QDQ
 * model (malloc'd, @out_len bytes) and @report, if not NULL, the summary
 * (quant_report_destroy). The result is loaded back with the importer
 * before it is returned: report->cores_device counts the products that run
 * on the device. Returns a sampan_error; on failure @err says why.
 */
int quant_model(const void *data, size_t len, const char *name, const struct onnx_model *m,
                const struct quant_calib *c, const struct quant_options *opt, void **out,
                size_t *out_len, struct quant_report **report, char *err, size_t err_size);

/* Writes @len bytes to @path atomically, with the mode fopen() would give
 * (file_write_atomic of fileio.h). Returns a sampan_error with @err. */
int quant_write_file(const char *path, const void *data, size_t len, char *err, size_t err_size);

#endif /* SAMPAN_HOST_QUANT_H */
