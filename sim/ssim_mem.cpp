/*
 * ssim_mem.cpp - card DRAM model (storage and AXI4 slave timing); the
 * behaviour is described in ssim_mem.h.
 */
#include "ssim_mem.h"

#include <algorithm>
#include <cstring>

/* ----------------------------------------------------------------- storage */

CardMem::CardMem(uint64_t bytes) : bytes_(bytes), pages_((bytes + PAGE - 1) >> PAGE_SHIFT) {}

uint8_t *CardMem::page(uint64_t addr)
{
	std::unique_ptr<uint8_t[]> &p = pages_[addr >> PAGE_SHIFT];
	if (!p)
		p.reset(new uint8_t[PAGE]()); /* zero-filled */
	return p.get();
}

void CardMem::read(uint64_t addr, void *dst, size_t n) const
{
	uint8_t *d = static_cast<uint8_t *>(dst);
	while (n > 0) {
		uint64_t off = addr & (PAGE - 1);
		size_t chunk = (size_t)std::min<uint64_t>(n, PAGE - off);
		const std::unique_ptr<uint8_t[]> &p = pages_[addr >> PAGE_SHIFT];
		if (p)
			std::memcpy(d, p.get() + off, chunk);
		else
			std::memset(d, 0, chunk);
		d += chunk;
		addr += chunk;
		n -= chunk;
	}
}

void CardMem::write(uint64_t addr, const void *src, size_t n)
{
	const uint8_t *s = static_cast<const uint8_t *>(src);
	while (n > 0) {
		uint64_t off = addr & (PAGE - 1);
		size_t chunk = (size_t)std::min<uint64_t>(n, PAGE - off);
		std::memcpy(page(addr) + off, s, chunk);
		s += chunk;
		addr += chunk;
		n -= chunk;
	}
}

void CardMem::write_strobed(uint64_t addr, const uint8_t *src, const uint8_t *strobe, unsigned bus_bytes)
{
	/* A bus-aligned beat never straddles a page (PAGE is a multiple of it). */
	uint8_t *d = page(addr) + (addr & (PAGE - 1));
	for (unsigned i = 0; i < bus_bytes; i++)
		if ((strobe[i / 8] >> (i % 8)) & 1)
			d[i] = src[i];
}

/* -------------------------------------------------------------- AXI slave */

static unsigned log2u(unsigned v)
{
	unsigned l = 0;
	while ((1u << l) < v)
		l++;
	return l;
}

AxiMem::AxiMem(CardMem &mem, unsigned bus_bytes, unsigned latency, unsigned bytes_per_cycle, unsigned outstanding,
	       const AxiFaults &faults)
	: mem_(mem), bus_(bus_bytes), latency_(latency), bpc_(bytes_per_cycle), outstanding_(outstanding),
	  size_log2_(log2u(bus_bytes)), faults_(faults), rbuf_(bus_bytes), strobe_((bus_bytes + 7) / 8)
{
}

void AxiMem::reset()
{
	reads_.clear();
	writes_.clear();
	bresps_.clear();
	r_shown_ = false;
	credit_ = 0;
	write_turn_ = false;
	counts_ = AxiCounts{};
}

AxiMem::Burst AxiMem::accept(uint64_t addr, unsigned len, unsigned size, unsigned burst, uint32_t id) const
{
	Burst b{};
	b.id = id;
	b.beats = len + 1;
	b.first_lane = (unsigned)(addr & (bus_ - 1));
	b.addr = addr - b.first_lane;
	b.resp = OKAY;
	if (burst != 1 || size != size_log2_)
		b.resp = SLVERR;
	else if (!mem_.in_range(b.addr, (uint64_t)b.beats * bus_))
		b.resp = DECERR;
	return b;
}

void AxiMem::drive(AxiOut &out, bool wvalid)
{
	credit_ = std::min<uint64_t>(credit_ + bpc_, std::max(bus_, bpc_));

	bool r_wants = !r_shown_ && !reads_.empty() && reads_.front().ready_at <= now_;
	bool w_wants = !writes_.empty() && wvalid;
	if (r_wants && credit_ >= bus_) {
		bool conflict = w_wants && credit_ < 2ull * bus_;
		if (!conflict || !write_turn_) {
			const Burst &b = reads_.front();
			if (b.resp == OKAY)
				mem_.read(b.addr + (uint64_t)b.done * bus_, rbuf_.data(), bus_);
			else
				std::fill(rbuf_.begin(), rbuf_.end(), 0);
			credit_ -= bus_;
			r_shown_ = true;
		}
		if (conflict)
			write_turn_ = !write_turn_;
	}

	out.arready = reads_.size() < outstanding_;
	out.awready = writes_.size() < outstanding_ && (!faults_.aw_wait_w || (wvalid && writes_.empty()));
	out.wready = !writes_.empty() && credit_ >= bus_;
	out.rvalid = r_shown_;
	out.rdata = rbuf_.data();
	out.rid = r_shown_ ? reads_.front().id : 0;
	out.rresp = r_shown_ ? reads_.front().resp : OKAY;
	if (r_shown_ && counts_.r_beats + 1 == faults_.read_beat)
		out.rresp = faults_.resp;
	out.rlast = r_shown_ && reads_.front().done + 1 == reads_.front().beats;
	out.bvalid = !bresps_.empty() && bresps_.front().ready_at <= now_;
	out.bid = out.bvalid ? bresps_.front().id : 0;
	out.bresp = out.bvalid ? bresps_.front().resp : OKAY;
	if (out.bvalid && counts_.b_resps + 1 == faults_.write_resp)
		out.bresp = faults_.resp;
}

void AxiMem::observe(const AxiIn &in, const AxiOut &out)
{
	if (out.rvalid && in.rready) {
		Burst &b = reads_.front();
		if (++counts_.r_beats == faults_.read_beat) {
			counts_.fault_fired = true;
			counts_.fault_write = false;
			counts_.fault_addr = b.addr + (uint64_t)b.done * bus_;
		}
		r_shown_ = false;
		if (++b.done == b.beats)
			reads_.pop_front();
	}
	if (in.arvalid && out.arready) {
		reads_.push_back(accept(in.araddr, in.arlen, in.arsize, in.arburst, in.arid));
		reads_.back().ready_at = now_ + latency_;
	}

	if (in.wvalid && out.wready) {
		Burst &b = writes_.front();
		credit_ -= bus_;
		if (b.resp == OKAY) {
			std::memcpy(strobe_.data(), in.wstrb, strobe_.size());
			for (unsigned i = 0; b.done == 0 && i < b.first_lane; i++)
				strobe_[i / 8] &= (uint8_t)~(1u << (i % 8));
			mem_.write_strobed(b.addr + (uint64_t)b.done * bus_, in.wdata, strobe_.data(), bus_);
		}
		bool last = ++b.done == b.beats;
		/* A WLAST in the wrong place ends the burst there, with SLVERR. */
		if (in.wlast != last && b.resp == OKAY)
			b.resp = SLVERR;
		if (last || in.wlast) {
			bresps_.push_back(Bresp{b.id, b.resp, now_ + latency_, b.addr + b.first_lane});
			writes_.pop_front();
		}
	}
	if (in.awvalid && out.awready)
		writes_.push_back(accept(in.awaddr, in.awlen, in.awsize, in.awburst, in.awid));

	if (out.bvalid && in.bready) {
		if (++counts_.b_resps == faults_.write_resp) {
			counts_.fault_fired = true;
			counts_.fault_write = true;
			counts_.fault_addr = bresps_.front().addr;
		}
		bresps_.pop_front();
	}
	now_++;
}
