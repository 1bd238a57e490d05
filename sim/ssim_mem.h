/*
 * ssim_mem.h - model of the card DRAM behind the kernel's AXI4 master.
 *
 * CardMem is the storage: byte-addressed, allocated lazily in 64 KiB pages
 * (untouched memory reads as zero), so a 256 MiB card costs nothing until
 * it is written.
 *
 * AxiMem is the AXI4 slave in front of it, a cycle-based model with Moore
 * outputs (they depend only on its own state, never combinationally on the
 * master's signals in the same cycle):
 *   - AR: accepted while fewer than `outstanding` read bursts are pending.
 *     The first beat of a burst can be presented `latency` cycles after its
 *     AR handshake; bursts answer in acceptance order (so in order per ID).
 *   - AW/W: accepted while fewer than `outstanding` write bursts wait for
 *     data; W beats are taken for the oldest accepted AW (AXI4 has no WID),
 *     applied with WSTRB, and the B response follows `latency` cycles after
 *     the last beat.
 *   - Bandwidth is one budget shared by reads and writes (DRAM is half
 *     duplex): `bytes_per_cycle` of credit accrues each cycle (kept at most
 *     max(bus, bytes_per_cycle)); presenting an R beat or taking a W beat
 *     spends one bus width. When both directions want the last credit they
 *     take turns.
 *   - Only INCR bursts of full bus width are supported; others answer SLVERR.
 *     A burst that reaches past the end of memory answers DECERR on every
 *     beat (reads return zeros, writes are dropped). Unaligned start
 *     addresses are aligned down to the bus width (the first beat's low
 *     lanes are masked on writes), as AXI4 defines.
 *   - 4 KiB boundary crossings are accepted (not flagged).
 *   - Fault injection (AxiFaults): the read_beat-th R beat handed over
 *     (counted from 1 since creation, every ID) answers `resp` instead of
 *     its own response, and so does the write_resp-th B response; each
 *     fires once. The data of a failed read beat is the memory's as usual;
 *     a failed write burst is still applied.
 *   - aw_wait_w: AWREADY is held low until WVALID is high and no accepted
 *     burst still waits for data, as a slave may do (AXI4 A3.3.1): a
 *     master that holds W back until its AW handshake deadlocks.
 */
#ifndef SSIM_MEM_H
#define SSIM_MEM_H

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

/* Byte-addressed sparse memory of a fixed size. */
class CardMem
{
      public:
	explicit CardMem(uint64_t bytes);
	uint64_t size() const
	{
		return bytes_;
	}
	/* True if [addr, addr + n) lies inside the memory. */
	bool in_range(uint64_t addr, uint64_t n) const
	{
		return addr <= bytes_ && n <= bytes_ - addr;
	}
	/* Callers check in_range() first. */
	void read(uint64_t addr, void *dst, size_t n) const;
	void write(uint64_t addr, const void *src, size_t n);
	/* Writes the bytes of one bus beat at @addr (bus-aligned) whose bit in
	 * @strobe (little-endian bit vector) is set. */
	void write_strobed(uint64_t addr, const uint8_t *src, const uint8_t *strobe,
	                   unsigned bus_bytes);

      private:
	static constexpr unsigned PAGE_SHIFT = 16;
	static constexpr uint64_t PAGE = 1ull << PAGE_SHIFT;
	uint8_t *page(uint64_t addr); /* allocates */
	uint64_t bytes_;
	std::vector<std::unique_ptr<uint8_t[]>> pages_;
};

/* Signals from the master, sampled after the clock-low evaluation. */
struct AxiIn {
	uint32_t awid;
	uint64_t awaddr;
	unsigned awlen, awsize, awburst;
	bool awvalid;
	const uint8_t *wdata; /* bus_bytes */
	const uint8_t *wstrb; /* bus_bytes / 8, little-endian bit vector */
	bool wlast, wvalid;
	bool bready;
	uint32_t arid;
	uint64_t araddr;
	unsigned arlen, arsize, arburst;
	bool arvalid;
	bool rready;
};

/* Signals to the master for the current cycle. */
struct AxiOut {
	bool awready, wready;
	uint32_t bid;
	unsigned bresp;
	bool bvalid;
	bool arready;
	uint32_t rid;
	const uint8_t *rdata; /* bus_bytes */
	unsigned rresp;
	bool rlast, rvalid;
};

/* Injected faults and slave behaviour options (all off when zero). */
struct AxiFaults {
	uint64_t read_beat;  /* 1-based index of the R beat that fails; 0: none */
	uint64_t write_resp; /* 1-based index of the B response that fails; 0: none */
	unsigned resp;       /* the response they give: SLVERR (2) or DECERR (3) */
	bool aw_wait_w;      /* AWREADY only with WVALID, no burst waiting for data */
};

/* What the slave has answered so far. */
struct AxiCounts {
	uint64_t r_beats;    /* R beats handed over */
	uint64_t b_resps;    /* B responses handed over */
	bool fault_fired;    /* an injected fault has been answered */
	bool fault_write;    /* it was a B response (else an R beat) */
	uint64_t fault_addr; /* R: address of the beat; B: start of the burst */
};

class AxiMem
{
      public:
	AxiMem(CardMem &mem, unsigned bus_bytes, unsigned latency, unsigned bytes_per_cycle,
	       unsigned outstanding, const AxiFaults &faults = AxiFaults{});
	const AxiCounts &counts() const
	{
		return counts_;
	}
	/* Drops every burst in flight (reset). */
	void reset();
	/* Computes this cycle's outputs. @wvalid is the master's registered
	 * WVALID, used only to arbitrate bandwidth. */
	void drive(AxiOut &out, bool wvalid);
	/* Takes the handshakes of this cycle and ends it. */
	void observe(const AxiIn &in, const AxiOut &out);

	static constexpr unsigned OKAY = 0, SLVERR = 2, DECERR = 3;

      private:
	struct Burst {
		uint64_t addr;       /* bus-aligned address of beat 0 */
		unsigned first_lane; /* first valid byte lane of beat 0 */
		unsigned beats, done;
		uint32_t id;
		unsigned resp;
		uint64_t ready_at; /* reads: cycle of the first beat */
	};
	struct Bresp {
		uint32_t id;
		unsigned resp;
		uint64_t ready_at;
		uint64_t addr; /* start of the burst */
	};
	Burst accept(uint64_t addr, unsigned len, unsigned size, unsigned burst, uint32_t id) const;

	CardMem &mem_;
	const unsigned bus_, latency_, bpc_, outstanding_, size_log2_;
	const AxiFaults faults_;
	AxiCounts counts_{};
	uint64_t now_ = 0;
	uint64_t credit_ = 0;
	bool write_turn_ = false;
	std::deque<Burst> reads_;
	std::deque<Burst> writes_;
	std::deque<Bresp> bresps_;
	bool r_shown_ = false; /* an R beat is on the bus, waiting for RREADY */
	std::vector<uint8_t> rbuf_;
	std::vector<uint8_t> strobe_;
};

#endif /* SSIM_MEM_H */
