/*
 * ssim_device.cpp - the full simulated card of sampan_sim.h: the Verilated
 * sampan_axi_top, an AXI4-Lite master for register access and the card
 * DRAM model (ssim_mem.h) on its AXI4 master port.
 *
 * Built three times from this one file: plain (build/libsampan_sim.so),
 * with SSIM_TRACE=1 (FST waveforms, build/libsampan_sim_trace.so) and with
 * SSIM_COVERAGE=1 (Verilator coverage, written when a card is destroyed to
 * $SSIM_COVERAGE_DIR/sampan_sim_<pid>_<n>.dat, default the current
 * directory).
 *
 * Clocking, one call of cycle(): the testbench drives its Moore outputs,
 * the model is evaluated with clk low (combinational settle), every
 * handshake is sampled, then the rising edge is evaluated. Waveform time is
 * 10 units (ns) per cycle, the rising edge at +5.
 */
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>

#include "Vsampan_axi_top.h"
#include "sampan_sim.h"
#include "ssim_mem.h"
#include "ssim_util.h"

#if SSIM_TRACE
#include "verilated_fst_c.h"
#endif

#ifndef SSIM_TRACE
#define SSIM_TRACE 0
#endif
#ifndef SSIM_COVERAGE
#define SSIM_COVERAGE 0
#endif

namespace {

const uint64_t DEFAULT_MEM_BYTES = 256ull << 20;
const uint64_t MAX_MEM_BYTES = 64ull << 30; /* page table stays <= 8 MB */
const unsigned DEFAULT_LATENCY = 40;
const unsigned DEFAULT_BYTES_PER_CYCLE = 64;
const unsigned DEFAULT_OUTSTANDING = 8;
const unsigned RESET_CYCLES = 8;
const unsigned LITE_TIMEOUT = 1000; /* cycles for one AXI4-Lite transaction */

} /* namespace */

struct ssim {
	std::string err;
	std::unique_ptr<VerilatedContext> ctx;
	std::unique_ptr<Vsampan_axi_top> top;
	std::unique_ptr<CardMem> mem;
	std::unique_ptr<AxiMem> axi;
	unsigned bus_bytes = 0;
	uint64_t cycles = 0;

	/* AXI4-Lite master: which channels of the current transaction are
	 * still open. */
	bool lite_aw = false, lite_w = false, lite_b = false, lite_ar = false, lite_r = false;
	uint32_t lite_addr = 0, lite_wdata = 0, lite_rdata = 0;
	unsigned lite_resp = 0;

#if SSIM_TRACE
	std::unique_ptr<VerilatedFstC> fst;
#endif

	/* The port `interrupt`, which Verilator renames as a C++ keyword-like
	 * identifier. */
	bool irq() const { return top->__SYM__interrupt; }
	void cycle();
	void run(uint64_t n);
	void lite(const char *what, uint32_t offset);
	void check_alive() const;
};

/* RTL $finish or $error ($stop) ends the simulation: later calls fail. */
void ssim::check_alive() const
{
	if (ctx->gotFinish() || ctx->gotError())
		throw ssim_failure("the RTL stopped the simulation ($finish/$error); see its output on stderr");
}

void ssim::cycle()
{
	Vsampan_axi_top &t = *top;

	AxiOut o;
	axi->drive(o, t.m_axi_wvalid);
	t.m_axi_arready = o.arready;
	t.m_axi_rvalid = o.rvalid;
	t.m_axi_rid = o.rid;
	t.m_axi_rresp = o.rresp;
	t.m_axi_rlast = o.rlast;
	std::memcpy(&t.m_axi_rdata, o.rdata, bus_bytes);
	t.m_axi_awready = o.awready;
	t.m_axi_wready = o.wready;
	t.m_axi_bvalid = o.bvalid;
	t.m_axi_bid = o.bid;
	t.m_axi_bresp = o.bresp;

	t.s_axil_awvalid = lite_aw;
	t.s_axil_awaddr = lite_addr;
	t.s_axil_wvalid = lite_w;
	t.s_axil_wdata = lite_wdata;
	t.s_axil_wstrb = 0xF;
	t.s_axil_bready = lite_b;
	t.s_axil_arvalid = lite_ar;
	t.s_axil_araddr = lite_addr;
	t.s_axil_rready = lite_r;

	ctx->time(cycles * 10);
	t.clk = 0;
	t.eval();
#if SSIM_TRACE
	if (fst && fst->isOpen())
		fst->dump(cycles * 10);
#endif

	AxiIn in;
	in.awid = t.m_axi_awid;
	in.awaddr = t.m_axi_awaddr;
	in.awlen = t.m_axi_awlen;
	in.awsize = t.m_axi_awsize;
	in.awburst = t.m_axi_awburst;
	in.awvalid = t.m_axi_awvalid;
	in.wdata = reinterpret_cast<const uint8_t *>(&t.m_axi_wdata);
	in.wstrb = reinterpret_cast<const uint8_t *>(&t.m_axi_wstrb);
	in.wlast = t.m_axi_wlast;
	in.wvalid = t.m_axi_wvalid;
	in.bready = t.m_axi_bready;
	in.arid = t.m_axi_arid;
	in.araddr = t.m_axi_araddr;
	in.arlen = t.m_axi_arlen;
	in.arsize = t.m_axi_arsize;
	in.arburst = t.m_axi_arburst;
	in.arvalid = t.m_axi_arvalid;
	in.rready = t.m_axi_rready;
	axi->observe(in, o);

	if (lite_aw && t.s_axil_awready)
		lite_aw = false;
	if (lite_w && t.s_axil_wready)
		lite_w = false;
	if (lite_b && t.s_axil_bvalid) {
		lite_b = false;
		lite_resp = t.s_axil_bresp;
	}
	if (lite_ar && t.s_axil_arready)
		lite_ar = false;
	if (lite_r && t.s_axil_rvalid) {
		lite_r = false;
		lite_resp = t.s_axil_rresp;
		lite_rdata = t.s_axil_rdata;
	}

	ctx->time(cycles * 10 + 5);
	t.clk = 1;
	t.eval();
#if SSIM_TRACE
	if (fst && fst->isOpen())
		fst->dump(cycles * 10 + 5);
#endif
	cycles++;
}

void ssim::run(uint64_t n)
{
	check_alive();
	for (uint64_t i = 0; i < n && !ctx->gotFinish(); i++)
		cycle();
	check_alive();
}

/* Clocks until the open AXI4-Lite transaction completes. */
void ssim::lite(const char *what, uint32_t offset)
{
	check_alive();
	for (unsigned i = 0; i < LITE_TIMEOUT; i++) {
		cycle();
		if (!(lite_aw || lite_w || lite_b || lite_ar || lite_r)) {
			check_alive();
			if (lite_resp != 0)
				throw ssim_failure(ssim_format("AXI4-Lite %s at 0x%02x: response %s", what, offset,
							       lite_resp == 2 ? "SLVERR" : "DECERR"));
			return;
		}
	}
	lite_aw = lite_w = lite_b = lite_ar = lite_r = false;
	throw ssim_failure(ssim_format("AXI4-Lite %s at 0x%02x: no response after %u cycles", what, offset,
				       LITE_TIMEOUT));
}

static void check_offset(uint32_t offset)
{
	if (offset > 0xFC || (offset & 3))
		throw ssim_failure(ssim_format("register offset 0x%x: must be 4-aligned and <= 0xfc", offset));
}

#if SSIM_TRACE
static void trace_open(struct ssim *sim, const char *path)
{
	if (!path || !*path)
		throw ssim_failure("trace: empty file name");
	if (!sim->fst) {
		sim->fst.reset(new VerilatedFstC);
		sim->top->trace(sim->fst.get(), 99);
	} else if (sim->fst->isOpen()) {
		sim->fst->close();
	}
	sim->fst->open(path);
	if (!sim->fst->isOpen())
		throw ssim_failure(ssim_format("trace: cannot open %s", path));
}
#else
static void trace_open(struct ssim *, const char *)
{
	throw ssim_failure("trace: this library was built without waveform support; "
			   "load libsampan_sim_trace.so (same directory) instead");
}
#endif

#if SSIM_COVERAGE
/* Writes the card's coverage counters to a file of its own. */
static void coverage_write(struct ssim *sim)
{
	static std::atomic<unsigned> seq{0};
	const char *dir = getenv("SSIM_COVERAGE_DIR");
	std::string path = ssim_format("%s/sampan_sim_%ld_%u.dat", dir && *dir ? dir : ".", (long)getpid(), seq++);
	sim->ctx->coveragep()->write(path.c_str());
}
#endif

/* ------------------------------------------------------------------- ABI */

SSIM_EXPORT int ssim_abi_version(void)
{
	return SSIM_ABI_VERSION;
}

SSIM_EXPORT struct ssim *ssim_create(const struct ssim_config *cfg)
{
	struct ssim *sim = nullptr;
	int rc = ssim_guard(ssim_global_error(), [&]() {
		struct ssim_config c = {};
		if (cfg)
			c = *cfg;
		uint64_t mem_bytes = c.mem_bytes ? c.mem_bytes : DEFAULT_MEM_BYTES;
		unsigned latency = c.mem_latency ? c.mem_latency : DEFAULT_LATENCY;
		unsigned bpc = c.mem_bytes_per_cycle ? c.mem_bytes_per_cycle : DEFAULT_BYTES_PER_CYCLE;
		unsigned outstanding = c.mem_outstanding ? c.mem_outstanding : DEFAULT_OUTSTANDING;
		if (mem_bytes > MAX_MEM_BYTES)
			throw ssim_failure(ssim_format("mem_bytes %llu: at most %llu (64 GiB)",
						       (unsigned long long)mem_bytes, (unsigned long long)MAX_MEM_BYTES));
		if (latency > 100000)
			throw ssim_failure(ssim_format("mem_latency %u: at most 100000 cycles", latency));
		if (bpc > 65536)
			throw ssim_failure(ssim_format("mem_bytes_per_cycle %u: at most 65536", bpc));
		if (outstanding > 256)
			throw ssim_failure(ssim_format("mem_outstanding %u: at most 256", outstanding));
		AxiFaults faults{};
		faults.read_beat = c.fault_read_beat;
		faults.write_resp = c.fault_write_resp;
		faults.resp = c.fault_resp ? c.fault_resp : AxiMem::SLVERR;
		faults.aw_wait_w = c.aw_wait_w != 0;
		if (faults.resp != AxiMem::SLVERR && faults.resp != AxiMem::DECERR)
			throw ssim_failure(ssim_format("fault_resp %u: 2 (SLVERR) or 3 (DECERR)", c.fault_resp));
		if (c.aw_wait_w > 1)
			throw ssim_failure(ssim_format("aw_wait_w %u: 0 or 1", c.aw_wait_w));

		std::unique_ptr<struct ssim> s(new struct ssim);
		s->ctx.reset(new VerilatedContext);
		s->ctx->fatalOnError(false);
		s->ctx->traceEverOn(SSIM_TRACE != 0);
		s->top.reset(new Vsampan_axi_top(s->ctx.get(), "sampan_axi_top"));
		s->bus_bytes = sizeof(s->top->m_axi_rdata);
		s->mem.reset(new CardMem(mem_bytes));
		s->axi.reset(new AxiMem(*s->mem, s->bus_bytes, latency, bpc, outstanding, faults));
		if (c.trace_path)
			trace_open(s.get(), c.trace_path);

		s->top->rst = 1;
		s->run(RESET_CYCLES);
		s->top->rst = 0;
		s->axi->reset();
		sim = s.release();
		return 0;
	});
	return rc == 0 ? sim : nullptr;
}

SSIM_EXPORT void ssim_destroy(struct ssim *sim)
{
	if (!sim)
		return;
	ssim_guard(sim->err, [&]() {
#if SSIM_TRACE
		if (sim->fst && sim->fst->isOpen())
			sim->fst->close();
#endif
		sim->top->final();
#if SSIM_COVERAGE
		coverage_write(sim);
#endif
		return 0;
	});
	delete sim;
}

SSIM_EXPORT const char *ssim_error(const struct ssim *sim)
{
	return sim ? sim->err.c_str() : ssim_global_error().c_str();
}

SSIM_EXPORT int ssim_reg_write(struct ssim *sim, uint32_t offset, uint32_t value)
{
	if (!sim)
		return -1;
	return ssim_guard(sim->err, [&]() {
		check_offset(offset);
		sim->lite_addr = offset;
		sim->lite_wdata = value;
		sim->lite_aw = sim->lite_w = sim->lite_b = true;
		sim->lite("write", offset);
		return 0;
	});
}

SSIM_EXPORT int ssim_reg_read(struct ssim *sim, uint32_t offset, uint32_t *value)
{
	if (!sim)
		return -1;
	return ssim_guard(sim->err, [&]() {
		if (!value)
			throw ssim_failure("ssim_reg_read: value is NULL");
		check_offset(offset);
		sim->lite_addr = offset;
		sim->lite_ar = sim->lite_r = true;
		sim->lite("read", offset);
		*value = sim->lite_rdata;
		return 0;
	});
}

SSIM_EXPORT int ssim_mem_write(struct ssim *sim, uint64_t addr, const void *src, size_t n)
{
	if (!sim)
		return -1;
	return ssim_guard(sim->err, [&]() {
		if (!src && n)
			throw ssim_failure("ssim_mem_write: src is NULL");
		if (!sim->mem->in_range(addr, n))
			throw ssim_failure(ssim_format("ssim_mem_write: [0x%llx, +%zu) is outside the %llu-byte card memory",
						       (unsigned long long)addr, n, (unsigned long long)sim->mem->size()));
		sim->mem->write(addr, src, n);
		return 0;
	});
}

SSIM_EXPORT int ssim_mem_read(struct ssim *sim, uint64_t addr, void *dst, size_t n)
{
	if (!sim)
		return -1;
	return ssim_guard(sim->err, [&]() {
		if (!dst && n)
			throw ssim_failure("ssim_mem_read: dst is NULL");
		if (!sim->mem->in_range(addr, n))
			throw ssim_failure(ssim_format("ssim_mem_read: [0x%llx, +%zu) is outside the %llu-byte card memory",
						       (unsigned long long)addr, n, (unsigned long long)sim->mem->size()));
		sim->mem->read(addr, dst, n);
		return 0;
	});
}

SSIM_EXPORT int ssim_mem_stats(const struct ssim *sim, struct ssim_mem_stats *stats)
{
	if (!sim || !stats)
		return -1;
	const AxiCounts &n = sim->axi->counts();
	memset(stats, 0, sizeof(*stats));
	stats->r_beats = n.r_beats;
	stats->b_resps = n.b_resps;
	stats->fault_fired = n.fault_fired;
	stats->fault_write = n.fault_write;
	stats->fault_addr = n.fault_addr;
	return 0;
}

SSIM_EXPORT void ssim_step(struct ssim *sim, uint64_t cycles)
{
	if (!sim)
		return;
	ssim_guard(sim->err, [&]() {
		sim->run(cycles);
		return 0;
	});
}

SSIM_EXPORT int ssim_wait_irq(struct ssim *sim, uint64_t max_cycles)
{
	if (!sim)
		return -1;
	return ssim_guard(sim->err, [&]() {
		sim->check_alive();
		for (uint64_t i = 0; i < max_cycles && !sim->irq() && !sim->ctx->gotFinish(); i++)
			sim->cycle();
		sim->check_alive();
		return sim->irq() ? 1 : 0;
	});
}

SSIM_EXPORT uint64_t ssim_cycles(const struct ssim *sim)
{
	return sim ? sim->cycles : 0;
}

SSIM_EXPORT int ssim_trace_open(struct ssim *sim, const char *path)
{
	if (!sim)
		return -1;
	return ssim_guard(sim->err, [&]() {
		trace_open(sim, path);
		return 0;
	});
}

SSIM_EXPORT void ssim_trace_close(struct ssim *sim)
{
	if (!sim)
		return;
#if SSIM_TRACE
	ssim_guard(sim->err, [&]() {
		if (sim->fst && sim->fst->isOpen())
			sim->fst->close();
		return 0;
	});
#endif
}
