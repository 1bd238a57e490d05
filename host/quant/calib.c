/*
 * calib.c - calibration of activation ranges (see quant.h): statistics of
 * every float value over sample runs, histograms, and the min/max,
 * percentile and entropy methods.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"
#include "runtime/runtime.h"

const char *quant_method_name(enum quant_method m)
{
	switch (m) {
	case QUANT_MINMAX:
		return "minmax";
	case QUANT_PERCENTILE:
		return "percentile";
	case QUANT_ENTROPY:
		return "entropy";
	}
	return "unknown";
}

bool quant_method_parse(const char *name, enum quant_method *m)
{
	static const enum quant_method all[] = {QUANT_MINMAX, QUANT_PERCENTILE, QUANT_ENTROPY};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, quant_method_name(all[i])) == 0) {
			*m = all[i];
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------- histograms */

void quant_hist_init(struct quant_hist *h, double lo, double hi)
{
	memset(h, 0, sizeof(*h));
	h->lo = lo;
	h->hi = hi > lo ? hi : lo;
}

void quant_hist_add(struct quant_hist *h, const float *x, size_t n, bool absolute)
{
	double width = h->hi - h->lo;
	double k = width > 0 ? QUANT_HIST_BINS / width : 0;

	for (size_t i = 0; i < n; i++) {
		double v = absolute ? fabs((double)x[i]) : (double)x[i];
		double pos;
		int b;

		if (isnan(v))
			continue;
		pos = (v - h->lo) * k;
		if (!(pos > 0))
			b = 0;
		else if (pos >= QUANT_HIST_BINS)
			b = QUANT_HIST_BINS - 1;
		else
			b = (int)pos;
		h->bins[b]++;
		h->total++;
	}
}

void quant_hist_percentile(const struct quant_hist *h, double pct, double *lo, double *hi)
{
	double width = (h->hi - h->lo) / QUANT_HIST_BINS;
	double tail = (100.0 - pct) / 100.0 * (double)h->total;
	uint64_t acc = 0;
	int first = 0, last = QUANT_HIST_BINS - 1;

	if (!h->total) {
		*lo = *hi = 0;
		return;
	}
	/* The first bin where more than the tail has been seen from the left
	 * and the last one from the right. */
	for (first = 0; first < QUANT_HIST_BINS - 1; first++) {
		acc += h->bins[first];
		if ((double)acc > tail)
			break;
	}
	acc = 0;
	for (last = QUANT_HIST_BINS - 1; last > 0; last--) {
		acc += h->bins[last];
		if ((double)acc > tail)
			break;
	}
	if (last < first)
		last = first;
	*lo = h->lo + first * width;
	*hi = h->lo + (last + 1) * width;
}

double quant_hist_entropy(const struct quant_hist *h, int levels)
{
	double width = (h->hi - h->lo) / QUANT_HIST_BINS;
	double best_kl = INFINITY, *p, *q;
	int best = QUANT_HIST_BINS;
	uint64_t outside = 0;

	if (!h->total || levels < 2 || levels > QUANT_HIST_BINS)
		return h->hi;
	p = malloc(2 * QUANT_HIST_BINS * sizeof(*p));
	if (!p)
		return h->hi;
	q = p + QUANT_HIST_BINS;
	for (int i = levels; i < QUANT_HIST_BINS; i++)
		outside += h->bins[i];
	/* Candidate thresholds: the end of bin i - 1, for i = levels .. BINS.
	 * P is the histogram clipped there (the values beyond counted in its
	 * last bin); Q the first i bins merged into @levels groups, each
	 * group's count spread evenly over its non-empty bins. */
	for (int i = levels; i <= QUANT_HIST_BINS; i++) {
		double kl = 0, psum = 0, qsum = 0;

		for (int b = 0; b < i; b++)
			p[b] = (double)h->bins[b];
		p[i - 1] += (double)outside;
		if (i < QUANT_HIST_BINS)
			outside -= h->bins[i];
		for (int g = 0; g < levels; g++) {
			int b0 = (int)((int64_t)g * i / levels),
			    b1 = (int)((int64_t)(g + 1) * i / levels);
			double sum = 0;
			int nonzero = 0;

			for (int b = b0; b < b1; b++) {
				sum += (double)h->bins[b];
				nonzero += h->bins[b] != 0;
			}
			for (int b = b0; b < b1; b++)
				q[b] = h->bins[b] && nonzero ? sum / nonzero : 0;
		}
		for (int b = 0; b < i; b++) {
			psum += p[b];
			qsum += q[b];
		}
		if (psum <= 0 || qsum <= 0)
			continue;
		for (int b = 0; b < i; b++) {
			double pb = p[b] / psum, qb = q[b] / qsum;

			if (pb <= 0)
				continue;
			/* An empty Q bin under a non-empty P bin (the outliers
			 * added to the last bin): a small floor, as TensorRT's
			 * smoothing does, keeps the divergence finite. */
			if (qb <= 0)
				qb = 1e-4 / qsum;
			kl += pb * log(pb / qb);
		}
		if (kl < best_kl) {
			best_kl = kl;
			best = i;
		}
	}
	free(p);
	return h->lo + best * width;
}

/* ------------------------------------------------------------ calibration */

struct quant_calib {
	const struct onnx_model *m;
	struct quant_stats *stats; /* m->n_values */
	int pass;                  /* 1: min/max, 2: histograms */
};

int quant_calib_create(const struct onnx_model *m, struct quant_calib **c)
{
	struct quant_calib *cal = calloc(1, sizeof(*cal));

	if (!cal)
		return SAMPAN_ERROR_NO_MEM;
	cal->m = m;
	cal->stats = calloc((size_t)m->n_values + 1, sizeof(*cal->stats));
	if (!cal->stats) {
		free(cal);
		return SAMPAN_ERROR_NO_MEM;
	}
	*c = cal;
	return SAMPAN_OK;
}

void quant_calib_destroy(struct quant_calib *c)
{
	if (!c)
		return;
	for (int v = 0; v < c->m->n_values; v++) {
		free(c->stats[v].hist);
		free(c->stats[v].absh);
	}
	free(c->stats);
	free(c);
}

const struct quant_stats *quant_calib_stats(const struct quant_calib *c, int value)
{
	return value >= 0 && value < c->m->n_values ? &c->stats[value] : NULL;
}

/* rt_hooks.on_value: folds one observed tensor into its value's figures. */
static int observe(void *user, int value, const struct onnx_tensor *t)
{
	struct quant_calib *c = user;
	struct quant_stats *s = &c->stats[value];
	const float *x = t->data;

	if (t->dtype != ONNX_DT_FLOAT || value < 0 || value >= c->m->n_values)
		return 0;
	if (c->pass == 1) {
		for (size_t i = 0; i < t->count; i++) {
			double v = x[i];

			if (isnan(v))
				continue;
			if (!s->seen || v < s->min)
				s->min = v;
			if (!s->seen || v > s->max)
				s->max = v;
			s->seen = true;
		}
		s->count += t->count;
		s->ndim = t->ndim;
		return 0;
	}
	if (!s->seen)
		return 0;
	if (!s->hist) {
		s->hist = malloc(sizeof(*s->hist));
		s->absh = malloc(sizeof(*s->absh));
		if (!s->hist || !s->absh)
			return SAMPAN_ERROR_NO_MEM;
		quant_hist_init(s->hist, s->min, s->max);
		quant_hist_init(s->absh, 0, fmax(fabs(s->min), fabs(s->max)));
	}
	quant_hist_add(s->hist, x, t->count, false);
	quant_hist_add(s->absh, x, t->count, true);
	return 0;
}

int quant_calib_run(struct quant_calib *c, struct sampan_device *dev, int pass,
                    struct onnx_tensor *const *inputs, char *err, size_t err_size)
{
	const struct onnx_model *m = c->m;
	struct rt_hooks hooks = {.on_value = observe, .user = c};
	struct onnx_tensor **outs;
	char msg[768] = "";
	int ret;

	if (pass != 1 && pass != 2) {
		snprintf(err, err_size, "calibration pass %d: 1 or 2", pass);
		return SAMPAN_ERROR_INVALID;
	}
	outs = calloc((size_t)m->n_outputs + 1, sizeof(*outs));
	if (!outs) {
		snprintf(err, err_size, "out of memory");
		return SAMPAN_ERROR_NO_MEM;
	}
	c->pass = pass;
	ret = rt_run_ex(m, dev, inputs, outs, NULL, &hooks, msg, sizeof(msg));
	if (ret)
		snprintf(err, err_size, "%s", msg[0] ? msg : sampan_strerror(ret));
	else
		for (int o = 0; o < m->n_outputs; o++)
			onnx_tensor_destroy(outs[o]);
	free(outs);
	return ret;
}

int quant_calibrate(struct quant_calib *c, struct sampan_device *dev, int n_samples,
                    struct onnx_tensor *const *samples, bool histograms, char *err, size_t err_size)
{
	if (n_samples <= 0) {
		snprintf(err, err_size, "no calibration samples");
		return SAMPAN_ERROR_INVALID;
	}
	for (int pass = 1; pass <= (histograms ? 2 : 1); pass++) {
		for (int i = 0; i < n_samples; i++) {
			char msg[768];
			int ret = quant_calib_run(c, dev, pass,
			                          samples + (size_t)i * (size_t)c->m->n_inputs, msg,
			                          sizeof(msg));

			if (ret) {
				snprintf(err, err_size, "calibration sample %d: %s", i, msg);
				return ret;
			}
		}
	}
	return SAMPAN_OK;
}

bool quant_calib_range(const struct quant_calib *c, int value, enum quant_method method, double pct,
                       float *lo, float *hi)
{
	const struct quant_stats *s = quant_calib_stats(c, value);
	double l, h;

	if (!s || !s->seen)
		return false;
	switch (method) {
	case QUANT_MINMAX:
		l = s->min;
		h = s->max;
		break;
	case QUANT_PERCENTILE:
		if (!s->hist)
			return false;
		quant_hist_percentile(s->hist, pct > 0 ? pct : 99.99, &l, &h);
		/* Never wider than what was seen (the bin edges round out). */
		l = fmax(l, s->min);
		h = fmin(h, s->max);
		break;
	case QUANT_ENTROPY: {
		double t;

		if (!s->absh)
			return false;
		/* Non-negative values use all 256 levels of an asymmetric
		 * range from 0; signed ones about 128 per side. */
		t = quant_hist_entropy(s->absh, s->min >= 0 ? 256 : 128);
		l = fmax(s->min, -t);
		h = fmin(s->max, t);
		break;
	}
	default:
		return false;
	}
	*lo = (float)l;
	*hi = (float)h;
	return true;
}

/* ------------------------------------------------------------- parameters */

void quant_act_params(float lo, float hi, float *scale, int8_t *zero_point)
{
	double l = fmin(lo, 0), h = fmax(hi, 0), z;
	float s;

	if (!isfinite(l) || !isfinite(h)) {
		*scale = 1.0f;
		*zero_point = 0;
		return;
	}
	if (!((float)(h - l) / 255.0f > 0)) {
		/* Nothing but zeros seen: any scale; the zero point at the low
		 * end keeps a fused Relu's floor. */
		*scale = 1.0f;
		*zero_point = -128;
		return;
	}
	s = (float)((h - l) / 255.0);
	z = l == 0 ? -128 : rint(-128.0 - l / s);
	*scale = s;
	*zero_point = (int8_t)(z < -128 ? -128 : z > 127 ? 127 : z);
}

void quant_weights(const float *w, int ndim, const int64_t *dims, int axis, int8_t *q, float *scale)
{
	int64_t channels = dims[axis], inner = 1, total = 1;

	for (int d = 0; d < ndim; d++) {
		total *= dims[d];
		if (d > axis)
			inner *= dims[d];
	}
	for (int64_t c = 0; c < channels; c++)
		scale[c] = 0;
	for (int64_t i = 0; i < total; i++) {
		int64_t c = i / inner % channels;
		float a = fabsf(w[i]);

		if (a > scale[c])
			scale[c] = a;
	}
	for (int64_t c = 0; c < channels; c++) {
		scale[c] = scale[c] / 127.0f;
		if (!(scale[c] > 0) || !isfinite(scale[c]))
			scale[c] = 1.0f;
	}
	for (int64_t i = 0; i < total; i++) {
		float v = rintf(w[i] / scale[i / inner % channels]);

		q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
	}
}

bool quant_bias(float b, float sx, float sw, int32_t *q)
{
	float s = sx * sw; /* in float, bit for bit the importer's rule */
	double v = rint((double)b / (double)s);

	if (isnan(v)) {
		*q = 0;
		return true;
	}
	if (v > INT32_MAX || v < INT32_MIN) {
		*q = v > 0 ? INT32_MAX : INT32_MIN;
		return true;
	}
	*q = (int32_t)v;
	return false;
}
