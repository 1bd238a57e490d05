/*
 * simdev.h - driving the simulated card directly through the sim C ABI
 * (sim/sampan_sim.h), below libsampan: register access, command encoding
 * (rtl/ARCHITECTURE.md, "Instruction set") and one run of a command list.
 * Used by the RTL tests to check the core without the driver in the way.
 */
#ifndef SAMPAN_TEST_SIMDEV_H
#define SAMPAN_TEST_SIMDEV_H

#include <stddef.h>
#include <stdint.h>

#include "sampan_sim.h"
#include "util.h"

/* Register offsets. */
enum {
	REG_CTRL = 0x00,
	REG_GIE = 0x04,
	REG_IER = 0x08,
	REG_ISR = 0x0C,
	REG_CMD_ADDR_LO = 0x10,
	REG_CMD_ADDR_HI = 0x14,
	REG_CMD_COUNT = 0x18,
	REG_ID = 0x40,
	REG_VERSION = 0x44,
	REG_SHAPE = 0x48,
	REG_K_DEPTH = 0x4C,
	REG_SLOTS = 0x50,
	REG_BUS_BYTES = 0x54,
	REG_CLOCK_MHZ = 0x58,
	REG_STATUS = 0x60,
	REG_ERR_INDEX = 0x64,
	REG_CYCLES = 0x80,
	REG_BUSY = 0x88,
	REG_MACS = 0x90,
	REG_STALL_MEM = 0x98,
	REG_STALL_DEP = 0xA0,
	REG_BYTES_RD = 0xA8,
	REG_BYTES_WR = 0xB0,
	REG_CMDS = 0xB8,
};

/* Opcodes. */
enum { OP_LOAD_A = 1, OP_LOAD_W = 2, OP_LOAD_P = 3, OP_COMPUTE = 4, OP_STORE = 5 };

/* One 16-byte command. */
struct cmd {
	uint32_t w[4];
};

/* A simulated card and what its registers say about it. */
struct simdev {
	struct ssim *sim;
	unsigned rows, cols;    /* SHAPE */
	unsigned k_depth;       /* KT */
	unsigned slots, params; /* ACC_SLOTS, P_ENTRIES */
	unsigned bus;           /* B, bus bytes */
};

/* Creates a card with @mem_bytes of memory and reads its shape registers.
 * Returns 0, or -1 with a message in @err. */
int simdev_open(struct simdev *d, uint64_t mem_bytes, char *err, size_t err_size);
void simdev_close(struct simdev *d);

uint32_t simdev_reg(struct simdev *d, uint32_t offset);
uint64_t simdev_reg64(struct simdev *d, uint32_t offset);

/* Writes @count commands at card address @addr, starts the core on them
 * with interrupts enabled and waits at most @max_cycles for ap_done.
 * Returns 1 when done was raised (STATUS and ERR_INDEX then written to
 * @status and @err_index, and done acknowledged), 0 on a timeout and -1 on
 * a sim ABI failure. */
int simdev_run(struct simdev *d, uint64_t addr, const struct cmd *cmds, size_t count,
               uint64_t max_cycles, uint32_t *status, uint32_t *err_index);

/* Command encoders (fields as in ARCHITECTURE.md; no range checks, so
 * that tests can build illegal commands too). */
struct cmd cmd_load(int op, unsigned bank, unsigned k_len, uint64_t addr);
struct cmd cmd_load_p(unsigned first, unsigned count, uint64_t addr);
struct cmd cmd_compute(unsigned a_bank, unsigned w_bank, int first, unsigned slot, unsigned k_len,
                       int za, unsigned m_valid, unsigned n_valid);
struct cmd cmd_store(int raw, unsigned slot, unsigned entry, uint64_t addr, int zo, int lo, int hi);

/* ------------------------------------------------------------ one tile
 *
 * A single output tile computed by hand-built commands: card memory map
 * (regions far apart and 4 KiB aligned), operands, and the check of the
 * raw and requantized results against ref.c. The functions assert with
 * Criterion. */
#define ADDR_CMDS 0x0000
#define ADDR_A0 0x10000
#define ADDR_A1 0x30000
#define ADDR_W0 0x50000
#define ADDR_W1 0x70000
#define ADDR_P 0x90000
#define ADDR_OUT 0xA0000
#define ADDR_OUT2 0xB0000

struct tile {
	unsigned m, n; /* valid rows and columns */
	unsigned k;    /* total k */
	int8_t *a, *w; /* (rows, k) and (cols, k), padded rows are zero */
	int32_t bias[64], mult[64], shift[64];
	int32_t za, zo, lo, hi;
};

/* Random operands for @m valid rows, @n valid columns and @k steps. */
void tile_random(struct tile *t, const struct simdev *d, struct rng *r, unsigned m, unsigned n,
                 unsigned k);
/* Writes steps [k0, k0 + k_len) of A and W in the LOAD_A/LOAD_W layouts. */
void tile_write_operands(struct simdev *d, const struct tile *t, unsigned k0, unsigned k_len,
                         uint64_t a_addr, uint64_t w_addr);
/* Writes the tile's bias/mult/shift as parameter entry @entry at ADDR_P. */
void tile_write_params(struct simdev *d, const struct tile *t, unsigned entry);
/* Checks the raw output at ADDR_OUT and the requantized one at ADDR_OUT2. */
void tile_check(struct simdev *d, const struct tile *t, const char *what);
/* The same for outputs at @raw_addr and @q_addr. */
void tile_check_at(struct simdev *d, const struct tile *t, uint64_t raw_addr, uint64_t q_addr,
                   const char *what);
void tile_free(struct tile *t);
/* The commands that compute the whole tile (k <= KT) into slot 0 with
 * parameter entry 0 and store it both ways: 6 commands into @cmds. */
size_t tile_commands(const struct simdev *d, const struct tile *t, struct cmd *cmds);

#endif /* SAMPAN_TEST_SIMDEV_H */
