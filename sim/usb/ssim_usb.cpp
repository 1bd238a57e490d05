/*
 * ssim_usb.cpp - the simulated USB board of sampan_simusb.h: the Verilated
 * sampan_stream_top behind a rate-limited byte link.
 *
 * Link model: each direction earns link_bytes_per_kcycle credits per cycle
 * (1000 credits = one byte, at most two bytes banked); a byte moves over
 * the byte stream when its direction holds a full byte of credit and the
 * RTL handshake completes. Clocking per cycle: inputs driven, model
 * evaluated with clk low, handshakes sampled, rising edge evaluated.
 */
#include <cstring>
#include <deque>
#include <memory>
#include <string>

#include "Vsampan_stream_top.h"
#include "sampan_simusb.h"
#include "ssim_util.h"

#ifndef SSIMUSB_MEM_BYTES
#error "SSIMUSB_MEM_BYTES must be the MEM_BYTES the RTL was Verilated with"
#endif

namespace {

const unsigned DEFAULT_RATE = 400; /* bytes per 1000 cycles */
const unsigned CREDIT_BYTE = 1000;
const unsigned CREDIT_MAX = 2 * CREDIT_BYTE;
const unsigned RESET_CYCLES = 8;

std::string create_error;

} /* namespace */

struct ssimusb {
	std::string err;
	std::unique_ptr<VerilatedContext> ctx;
	std::unique_ptr<Vsampan_stream_top> top;
	std::deque<uint8_t> to_dev, from_dev;
	unsigned rate = DEFAULT_RATE;
	unsigned in_credit = 0, out_credit = 0;
	uint64_t cycles = 0;

	void cycle(bool rst);
	void check_alive() const;
};

void ssimusb::check_alive() const
{
	if (ctx->gotFinish() || ctx->gotError())
		throw ssim_failure("the RTL stopped the simulation ($finish/$error); see its output on stderr");
}

void ssimusb::cycle(bool rst)
{
	Vsampan_stream_top &t = *top;
	bool in_valid = in_credit >= CREDIT_BYTE && !to_dev.empty();
	bool out_ready = out_credit >= CREDIT_BYTE;

	t.rst = rst;
	t.s_axis_tvalid = in_valid;
	t.s_axis_tdata = in_valid ? to_dev.front() : 0;
	t.m_axis_tready = out_ready;
	t.clk = 0;
	t.eval();

	if (!rst && in_valid && t.s_axis_tready) {
		to_dev.pop_front();
		in_credit -= CREDIT_BYTE;
	}
	if (!rst && out_ready && t.m_axis_tvalid) {
		from_dev.push_back(t.m_axis_tdata);
		out_credit -= CREDIT_BYTE;
	}
	in_credit = in_credit + rate > CREDIT_MAX ? CREDIT_MAX : in_credit + rate;
	out_credit = out_credit + rate > CREDIT_MAX ? CREDIT_MAX : out_credit + rate;

	t.clk = 1;
	t.eval();
	cycles++;
}

SSIM_EXPORT int ssimusb_abi_version(void)
{
	return SSIMUSB_ABI_VERSION;
}

SSIM_EXPORT uint64_t ssimusb_mem_bytes(void)
{
	return SSIMUSB_MEM_BYTES;
}

SSIM_EXPORT struct ssimusb *ssimusb_create(const struct ssimusb_config *cfg)
{
	ssimusb *s = nullptr;
	int r = ssim_guard(create_error, [&]() {
		unsigned rate = cfg && cfg->link_bytes_per_kcycle ? cfg->link_bytes_per_kcycle : DEFAULT_RATE;
		if (rate > CREDIT_BYTE)
			throw ssim_failure(ssim_format("link rate %u bytes per 1000 cycles: at most %u", rate,
						       CREDIT_BYTE));
		std::unique_ptr<ssimusb> p(new ssimusb);
		p->rate = rate;
		p->ctx.reset(new VerilatedContext);
		p->ctx->fatalOnError(false);
		p->top.reset(new Vsampan_stream_top(p->ctx.get(), "sampan_stream_top"));
		for (unsigned i = 0; i < RESET_CYCLES; i++)
			p->cycle(true);
		p->check_alive();
		s = p.release();
		return 0;
	});
	return r < 0 ? nullptr : s;
}

SSIM_EXPORT void ssimusb_destroy(struct ssimusb *sim)
{
	if (!sim)
		return;
	sim->top->final();
	delete sim;
}

SSIM_EXPORT const char *ssimusb_error(const struct ssimusb *sim)
{
	return sim ? sim->err.c_str() : create_error.c_str();
}

SSIM_EXPORT int ssimusb_push(struct ssimusb *sim, const void *src, size_t n)
{
	return ssim_guard(sim->err, [&]() {
		const uint8_t *p = static_cast<const uint8_t *>(src);
		sim->to_dev.insert(sim->to_dev.end(), p, p + n);
		return 0;
	});
}

SSIM_EXPORT size_t ssimusb_pull(struct ssimusb *sim, void *dst, size_t max)
{
	size_t n = sim->from_dev.size() < max ? sim->from_dev.size() : max;
	uint8_t *p = static_cast<uint8_t *>(dst);

	for (size_t i = 0; i < n; i++) {
		p[i] = sim->from_dev.front();
		sim->from_dev.pop_front();
	}
	return n;
}

SSIM_EXPORT size_t ssimusb_pending(const struct ssimusb *sim)
{
	return sim->to_dev.size();
}

SSIM_EXPORT int64_t ssimusb_step(struct ssimusb *sim, uint64_t max_cycles, size_t want_out)
{
	uint64_t done = 0;
	int r = ssim_guard(sim->err, [&]() {
		sim->check_alive();
		while (done < max_cycles && (want_out == 0 || sim->from_dev.size() < want_out)) {
			sim->cycle(false);
			done++;
		}
		sim->check_alive();
		return 0;
	});
	return r < 0 ? r : (int64_t)done;
}

SSIM_EXPORT int ssimusb_reset(struct ssimusb *sim)
{
	return ssim_guard(sim->err, [&]() {
		for (unsigned i = 0; i < RESET_CYCLES; i++)
			sim->cycle(true);
		sim->check_alive();
		return 0;
	});
}

SSIM_EXPORT uint64_t ssimusb_cycles(const struct ssimusb *sim)
{
	return sim->cycles;
}
