/*
 * ssim_units.cpp - the unit models of sampan_sim.h: one PE, one
 * requantizer lane, the float units and the systolic array at the sizes built into the
 * library (4x4, 8x16, 16x16), each a separately Verilated module with its
 * own prefix and its own VerilatedContext per handle. The unit handles
 * have no error slot of their own: failures leave their message in
 * ssim_error(NULL).
 */
#include <memory>
#include <string>

#include "Vsampan_array_16x16.h"
#include "Vsampan_array_4x4.h"
#include "Vsampan_array_8x16.h"
#include "Vsampan_fadd.h"
#include "Vsampan_fh2f.h"
#include "Vsampan_fmul.h"
#include "Vsampan_fscale.h"
#include "Vsampan_pe.h"
#include "Vsampan_requant.h"
#include "sampan_sim.h"
#include "ssim_util.h"

/* Clocks a unit model once: inputs are already applied. */
template <class T> static void unit_edge(T &m)
{
	m.clk = 0;
	m.eval();
	m.clk = 1;
	m.eval();
}

/* Holds a unit model in reset for two cycles. */
template <class T> static void unit_reset(T &m)
{
	m.rst = 1;
	unit_edge(m);
	unit_edge(m);
	m.rst = 0;
}

/* ---------------------------------------------------------------- PE */

struct ssim_pe {
	VerilatedContext ctx;
	Vsampan_pe top{&ctx, "sampan_pe"};
};

SSIM_EXPORT struct ssim_pe *ssim_pe_create(void)
{
	struct ssim_pe *pe = nullptr;
	ssim_guard(ssim_global_error(), [&]() {
		std::unique_ptr<struct ssim_pe> p(new struct ssim_pe);
		p->ctx.fatalOnError(false);
		unit_reset(p->top);
		pe = p.release();
		return 0;
	});
	return pe;
}

SSIM_EXPORT void ssim_pe_destroy(struct ssim_pe *pe)
{
	if (!pe)
		return;
	ssim_guard(ssim_global_error(), [&]() {
		pe->top.final();
		return 0;
	});
	delete pe;
}

SSIM_EXPORT void ssim_pe_cycle(struct ssim_pe *pe, struct ssim_pe_io *io)
{
	if (!pe || !io)
		return;
	ssim_guard(ssim_global_error(), [&]() {
		Vsampan_pe &t = pe->top;
		t.rst = io->rst != 0;
		t.in_valid = io->in_valid != 0;
		t.in_last = io->in_last != 0;
		t.in_a = (uint16_t)(io->in_a & 0x1FF);
		t.in_w = (uint8_t)(io->in_w & 0xFF);
		unit_edge(t);
		io->out_valid = t.out_valid;
		io->out_last = t.out_last;
		io->out_a = ssim_sext(t.out_a, 9);
		io->out_w = ssim_sext(t.out_w, 8);
		io->res_valid = t.res_valid;
		io->res = (int32_t)t.res;
		return 0;
	});
}

/* ------------------------------------------------------------- array */

/* One size of the array; the C handle points at this interface. */
struct ssim_array {
	virtual ~ssim_array() = default;
	virtual long run(const int16_t *a, const int8_t *w, unsigned k_len, int32_t *out) = 0;
};

namespace {

template <class T, unsigned R, unsigned C> struct ArrayModel final : ssim_array {
	VerilatedContext ctx;
	T top{&ctx, "sampan_array"};

	ArrayModel()
	{
		ctx.fatalOnError(false);
		unit_reset(top);
	}
	~ArrayModel() override { top.final(); }

	/* Streams one tile (see sampan_sim.h). The returned count runs from
	 * the edge that takes step 0 to the last edge at which any shadow
	 * register changed; a tile whose results all equal the previous
	 * tile's shows no change, and then the count of edges clocked is
	 * returned. */
	long run(const int16_t *a, const int8_t *w, unsigned k_len, int32_t *out) override
	{
		const unsigned tail = R + C + 8;
		VlWide<R * C> prev = top.res;
		long last_change = -1;
		for (unsigned e = 0; e < k_len + tail; e++) {
			bool step = e < k_len;
			top.in_valid = step;
			top.in_last = step && e + 1 == k_len;
			for (unsigned r = 0; r < R; r++)
				ssim_set_field(top.in_a, r * 9, 9, step ? (uint32_t)a[(size_t)e * R + r] & 0x1FF : 0);
			for (unsigned c = 0; c < C; c++)
				ssim_set_field(top.in_w, c * 8, 8, step ? (uint32_t)(uint8_t)w[(size_t)e * C + c] : 0);
			unit_edge(top);
			if (top.res != prev) {
				last_change = e;
				prev = top.res;
			}
		}
		for (unsigned i = 0; i < R * C; i++)
			out[i] = (int32_t)top.res.at(i);
		return last_change >= 0 ? last_change + 1 : (long)(k_len + tail);
	}
};

} /* namespace */

SSIM_EXPORT struct ssim_array *ssim_array_create(unsigned rows, unsigned cols)
{
	struct ssim_array *arr = nullptr;
	ssim_guard(ssim_global_error(), [&]() {
		if (rows == 4 && cols == 4)
			arr = new ArrayModel<Vsampan_array_4x4, 4, 4>;
		else if (rows == 8 && cols == 16)
			arr = new ArrayModel<Vsampan_array_8x16, 8, 16>;
		else if (rows == 16 && cols == 16)
			arr = new ArrayModel<Vsampan_array_16x16, 16, 16>;
		else
			throw ssim_failure(ssim_format("array %ux%u: not in this library (built: 4x4, 8x16, 16x16)", rows, cols));
		return 0;
	});
	return arr;
}

SSIM_EXPORT void ssim_array_destroy(struct ssim_array *arr)
{
	delete arr;
}

SSIM_EXPORT long ssim_array_run(struct ssim_array *arr, const int16_t *a, const int8_t *w, unsigned k_len, int32_t *out)
{
	if (!arr)
		return -1;
	long cycles = -1;
	ssim_guard(ssim_global_error(), [&]() {
		if (!a || !w || !out)
			throw ssim_failure("ssim_array_run: NULL operand");
		if (k_len == 0)
			throw ssim_failure("ssim_array_run: k_len must be >= 1");
		cycles = arr->run(a, w, k_len, out);
		return 0;
	});
	return cycles;
}

/* -------------------------------------------------------- requantizer */

struct ssim_requant {
	VerilatedContext ctx;
	Vsampan_requant top{&ctx, "sampan_requant"};
};

SSIM_EXPORT struct ssim_requant *ssim_requant_create(void)
{
	struct ssim_requant *rq = nullptr;
	ssim_guard(ssim_global_error(), [&]() {
		std::unique_ptr<struct ssim_requant> p(new struct ssim_requant);
		p->ctx.fatalOnError(false);
		unit_reset(p->top);
		rq = p.release();
		return 0;
	});
	return rq;
}

SSIM_EXPORT void ssim_requant_destroy(struct ssim_requant *rq)
{
	if (!rq)
		return;
	ssim_guard(ssim_global_error(), [&]() {
		rq->top.final();
		return 0;
	});
	delete rq;
}

static bool is_int8(int32_t v)
{
	return v >= -128 && v <= 127;
}

/* Latency budget: the pipeline must answer within this many cycles. */
static const size_t REQUANT_MAX_LATENCY = 64;

SSIM_EXPORT int ssim_requant_run(struct ssim_requant *rq, const struct ssim_requant_in *in, int32_t *out, size_t n)
{
	if (!rq)
		return -1;
	return ssim_guard(ssim_global_error(), [&]() {
		if (n && (!in || !out))
			throw ssim_failure("ssim_requant_run: NULL in or out");
		for (size_t i = 0; i < n; i++)
			if (!is_int8(in[i].zo) || !is_int8(in[i].lo) || !is_int8(in[i].hi))
				throw ssim_failure(ssim_format("ssim_requant_run: input %zu: zo/lo/hi must be int8", i));
		Vsampan_requant &t = rq->top;
		size_t got = 0;
		for (size_t e = 0; got < n; e++) {
			if (e >= n + REQUANT_MAX_LATENCY)
				throw ssim_failure(ssim_format("ssim_requant_run: %zu of %zu outputs after %zu cycles", got, n, e));
			bool feed = e < n;
			const struct ssim_requant_in z = {};
			const struct ssim_requant_in &x = feed ? in[e] : z;
			t.in_valid = feed;
			t.in_raw = x.raw != 0;
			t.in_acc = (uint32_t)x.acc;
			t.in_bias = (uint32_t)x.bias;
			t.in_mult = (uint32_t)x.mult;
			t.in_shift = (uint32_t)x.shift;
			t.in_zo = (uint8_t)x.zo;
			t.in_lo = (uint8_t)x.lo;
			t.in_hi = (uint8_t)x.hi;
			unit_edge(t);
			if (t.out_valid)
				out[got++] = (int32_t)t.out_data;
		}
		/* Let the pipeline drain so that the next run starts empty. */
		t.in_valid = 0;
		for (size_t i = 0; i < REQUANT_MAX_LATENCY && t.out_valid; i++)
			unit_edge(t);
		return 0;
	});
}

/* ------------------------------------------------------- float units */

struct ssim_float {
	VerilatedContext ctx;
	Vsampan_fh2f h2f{&ctx, "sampan_fh2f"};
	Vsampan_fscale scale{&ctx, "sampan_fscale"};
	Vsampan_fmul mul{&ctx, "sampan_fmul"};
	Vsampan_fadd add{&ctx, "sampan_fadd"};
};

/* Latencies of the pipelined units (their headers). */
static const size_t FSCALE_LATENCY = 3;
static const size_t FMUL_LATENCY = 5;
static const size_t FADD_LATENCY = 5;

SSIM_EXPORT struct ssim_float *ssim_float_create(void)
{
	struct ssim_float *f = nullptr;
	ssim_guard(ssim_global_error(), [&]() {
		std::unique_ptr<struct ssim_float> p(new struct ssim_float);
		p->ctx.fatalOnError(false);
		f = p.release();
		return 0;
	});
	return f;
}

SSIM_EXPORT void ssim_float_destroy(struct ssim_float *f)
{
	if (!f)
		return;
	ssim_guard(ssim_global_error(), [&]() {
		f->h2f.final();
		f->scale.final();
		f->mul.final();
		f->add.final();
		return 0;
	});
	delete f;
}

/* Streams n inputs through a pipelined unit of latency L: set(i) applies
 * input i (or, for i >= n, repeats the last one), get(i) reads output i
 * after the edge that produces it. */
template <class T, class Set, class Get> static void float_stream(T &m, size_t lat, size_t n, Set set, Get get)
{
	for (size_t e = 0; e + 1 < n + lat; e++) {
		set(e < n ? e : n - 1);
		unit_edge(m);
		if (e + 1 >= lat)
			get(e + 1 - lat);
	}
}

SSIM_EXPORT int ssim_float_h2f(struct ssim_float *f, const uint16_t *h, uint32_t *out, size_t n)
{
	if (!f)
		return -1;
	return ssim_guard(ssim_global_error(), [&]() {
		if (n && (!h || !out))
			throw ssim_failure("ssim_float_h2f: NULL in or out");
		for (size_t i = 0; i < n; i++) {
			f->h2f.in_h = h[i];
			f->h2f.eval();
			out[i] = f->h2f.out_f;
		}
		return 0;
	});
}

SSIM_EXPORT int ssim_float_scale(struct ssim_float *f, const uint16_t *a, const uint16_t *b, uint32_t *out, size_t n)
{
	if (!f)
		return -1;
	return ssim_guard(ssim_global_error(), [&]() {
		if (n == 0)
			return 0;
		if (!a || !b || !out)
			throw ssim_failure("ssim_float_scale: NULL in or out");
		Vsampan_fscale &t = f->scale;
		float_stream(
			t, FSCALE_LATENCY, n,
			[&](size_t i) {
				t.in_a = a[i];
				t.in_b = b[i];
			},
			[&](size_t i) { out[i] = t.out_f; });
		return 0;
	});
}

SSIM_EXPORT int ssim_float_mul(struct ssim_float *f, const int32_t *isum, const uint32_t *s, uint32_t *out, size_t n)
{
	if (!f)
		return -1;
	return ssim_guard(ssim_global_error(), [&]() {
		if (n == 0)
			return 0;
		if (!isum || !s || !out)
			throw ssim_failure("ssim_float_mul: NULL in or out");
		for (size_t i = 0; i < n; i++)
			if (isum[i] <= -(1 << 20) || isum[i] >= (1 << 20))
				throw ssim_failure(ssim_format("ssim_float_mul: |isum| %d not below 2^20", isum[i]));
		Vsampan_fmul &t = f->mul;
		float_stream(
			t, FMUL_LATENCY, n,
			[&](size_t i) {
				t.in_i = (uint32_t)isum[i] & 0x1FFFFF;
				t.in_f = s[i];
			},
			[&](size_t i) { out[i] = t.out_f; });
		return 0;
	});
}

SSIM_EXPORT int ssim_float_add(struct ssim_float *f, const uint32_t *a, const uint32_t *b, uint32_t *out, size_t n)
{
	if (!f)
		return -1;
	return ssim_guard(ssim_global_error(), [&]() {
		if (n == 0)
			return 0;
		if (!a || !b || !out)
			throw ssim_failure("ssim_float_add: NULL in or out");
		Vsampan_fadd &t = f->add;
		float_stream(
			t, FADD_LATENCY, n,
			[&](size_t i) {
				t.in_a = a[i];
				t.in_b = b[i];
			},
			[&](size_t i) { out[i] = t.out_f; });
		return 0;
	});
}
