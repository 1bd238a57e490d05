/*
 * test_usb.c - the USB path without a board: the frame format of
 * rtl/stream/README.md spoken directly to the simulated stream shell
 * (libsampan_simusb.so), random GEMMs on `sim-usb` bit-exact against the
 * reference, and every fault class of the simulated link (dropped,
 * duplicated and corrupted bytes, stalls, a device reset in the middle of
 * a transfer): each ends in a correct result or a clear error, never in a
 * hang or a wrong answer. Also the `usb` backend with no board attached.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_case.h"
#include "sampan.h"
#include "usb/sampan_simusb.h"
#include "usb_proto.h"
#include "usb_sim.h"
#include "util.h"

TestSuite(usb_frame, .timeout = 60);
TestSuite(sim_usb, .timeout = 240);
TestSuite(usb, .timeout = 60);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

/* ================================================================ frames */

Test(usb_frame, crc_check_value)
{
	/* The standard check value of CRC-16/CCITT-FALSE. */
	cr_assert_eq(usb_crc16(0xFFFF, (const uint8_t *)"123456789", 9), 0x29B1);
}

Test(usb_frame, encode_layout)
{
	uint8_t f[32], pl[4] = {1, 2, 3, 4};
	size_t n = usb_frame_encode(f, USB_T_REG_READ, 0x42, pl, sizeof(pl));

	cr_assert_eq(n, USB_HDR_BYTES + 4 + USB_CRC_BYTES);
	cr_assert_eq(f[0], USB_SYNC);
	cr_assert_eq(f[1], USB_T_REG_READ);
	cr_assert_eq(f[2], 0x42);
	cr_assert_eq(f[3] | f[4] << 8, 4);
	cr_assert_eq(f[5] | f[6] << 8, usb_crc16(0xFFFF, f + 1, 4));
	cr_assert_eq(f[11] | f[12] << 8, usb_crc16(0xFFFF, f + 1, 10));
}

/* ------------------------------------------------ raw frames to the RTL */

struct board {
	struct ssimusb *sim;
	uint8_t resp[USB_HDR_BYTES + USB_MAX_DATA + USB_CRC_BYTES];
	size_t resp_len;
};

static void board_open(struct board *b)
{
	struct ssimusb_config cfg = {.link_bytes_per_kcycle = 1000};

	b->sim = ssimusb_create(&cfg);
	cr_assert_not_null(b->sim, "ssimusb_create: %s", ssimusb_error(NULL));
}

/* Sends @n raw bytes and collects what the device answers within
 * @cycles into b->resp. */
static void board_exchange(struct board *b, const uint8_t *bytes, size_t n, uint64_t cycles)
{
	cr_assert_eq(ssimusb_push(b->sim, bytes, n), 0);
	cr_assert_geq(ssimusb_step(b->sim, cycles, 0), 0, "%s", ssimusb_error(b->sim));
	b->resp_len = ssimusb_pull(b->sim, b->resp, sizeof(b->resp));
}

/* Sends one frame and checks that exactly one valid response frame with
 * @seq comes back; returns its type. */
static uint8_t board_request(struct board *b, uint8_t type, uint8_t seq, const uint8_t *pl,
                             uint16_t len)
{
	uint8_t f[USB_HDR_BYTES + USB_MAX_DATA + 4 + USB_CRC_BYTES];
	size_t n = usb_frame_encode(f, type, seq, pl, len), rlen;

	board_exchange(b, f, n, 2000 + 4 * n);
	cr_assert_geq(b->resp_len, USB_HDR_BYTES + USB_CRC_BYTES, "no response to type %u", type);
	rlen = b->resp[3] | b->resp[4] << 8;
	cr_assert_eq(b->resp_len, USB_HDR_BYTES + rlen + USB_CRC_BYTES);
	cr_assert_eq(b->resp[0], USB_SYNC);
	cr_assert_eq(b->resp[2], seq);
	cr_assert_eq(usb_crc16(0xFFFF, b->resp + 1, 4), b->resp[5] | b->resp[6] << 8);
	cr_assert_eq(usb_crc16(0xFFFF, b->resp + 1, b->resp_len - 3),
	             b->resp[b->resp_len - 2] | b->resp[b->resp_len - 1] << 8);
	return b->resp[1];
}

static uint32_t resp32(const struct board *b)
{
	const uint8_t *d = b->resp + USB_HDR_BYTES;
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

Test(usb_frame, rtl_hello_then_registers)
{
	struct board b;
	uint8_t pl[8] = {0x40, 0, 0, 0};

	board_open(&b);
	/* Before HELLO the device refuses everything else. */
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 1, pl, 4), USB_T_NAK);
	cr_assert_eq(b.resp[USB_HDR_BYTES], USB_NAK_NOT_SYNCED);
	cr_assert_eq(board_request(&b, USB_T_HELLO, 2, NULL, 0), USB_T_DATA);
	cr_assert_eq(b.resp[USB_HDR_BYTES], 1, "protocol version");
	cr_assert_eq(resp32(&b) >> 24 | (uint32_t)b.resp[USB_HDR_BYTES + 4] << 8 |
	                 (uint32_t)b.resp[USB_HDR_BYTES + 5] << 16 |
	                 (uint32_t)b.resp[USB_HDR_BYTES + 6] << 24,
	             (uint32_t)ssimusb_mem_bytes());
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 3, pl, 4), USB_T_DATA);
	cr_assert_eq(resp32(&b), 0x4E504D53u, "ID register");
	/* A register write, read back (CMD_COUNT). */
	pl[0] = 0x18;
	pl[4] = 0x78;
	pl[5] = 0x56;
	cr_assert_eq(board_request(&b, USB_T_REG_WRITE, 4, pl, 8), USB_T_ACK);
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 5, pl, 4), USB_T_DATA);
	cr_assert_eq(resp32(&b), 0x5678u);
	/* Unaligned or out-of-map register: NAK range, nothing done. */
	pl[0] = 0x19;
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 6, pl, 4), USB_T_NAK);
	cr_assert_eq(b.resp[USB_HDR_BYTES], USB_NAK_RANGE);
	ssimusb_destroy(b.sim);
}

Test(usb_frame, rtl_duplicate_is_answered_from_cache)
{
	struct board b;
	uint8_t pl[8] = {0x18, 0, 0, 0, 7, 0, 0, 0};
	uint8_t wr[4 + 100], rd[6];
	uint32_t first;

	board_open(&b);
	cr_assert_eq(board_request(&b, USB_T_HELLO, 9, NULL, 0), USB_T_DATA);
	cr_assert_eq(board_request(&b, USB_T_REG_WRITE, 10, pl, 8), USB_T_ACK);
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 11, pl, 4), USB_T_DATA);
	first = resp32(&b);
	cr_assert_eq(first, 7);
	/* Change the register behind the cache: a repeated sequence number
	 * must give the cached answer, a new one the new value. */
	pl[4] = 9;
	cr_assert_eq(board_request(&b, USB_T_REG_WRITE, 12, pl, 8), USB_T_ACK);
	cr_assert_eq(board_request(&b, USB_T_REG_WRITE, 12, (uint8_t[8]){0x18, 0, 0, 0, 1}, 8),
	             USB_T_ACK);
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 13, pl, 4), USB_T_DATA);
	cr_assert_eq(resp32(&b), 9, "a duplicated write was executed again");
	/* Memory write then read, and the read repeated. */
	memset(wr, 0, sizeof(wr));
	wr[0] = 0x33; /* address 0x1033: unaligned */
	wr[1] = 0x10;
	for (int i = 0; i < 100; i++)
		wr[4 + i] = (uint8_t)(i * 7 + 1);
	cr_assert_eq(board_request(&b, USB_T_MEM_WRITE, 14, wr, sizeof(wr)), USB_T_ACK);
	memcpy(rd, wr, 4);
	rd[4] = 100;
	rd[5] = 0;
	for (int rep = 0; rep < 2; rep++) {
		cr_assert_eq(board_request(&b, USB_T_MEM_READ, 15, rd, 6), USB_T_DATA);
		cr_assert_eq(b.resp[3], 100);
		cr_assert_arr_eq(b.resp + USB_HDR_BYTES, wr + 4, 100);
	}
	ssimusb_destroy(b.sim);
}

Test(usb_frame, rtl_resync_and_bad_frames)
{
	struct board b;
	uint8_t f[64], pl[4] = {0x40, 0, 0, 0}, junk[300];
	size_t n;

	board_open(&b);
	cr_assert_eq(board_request(&b, USB_T_HELLO, 1, NULL, 0), USB_T_DATA);
	/* Garbage, sync bytes included, then a good frame: one answer. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i % 3 ? 0xA5 : i * 13);
	cr_assert_eq(ssimusb_push(b.sim, junk, sizeof(junk)), 0);
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 2, pl, 4), USB_T_DATA);
	cr_assert_eq(resp32(&b), 0x4E504D53u);
	/* Bad frame CRC: NAK with the frame's sequence number. */
	n = usb_frame_encode(f, USB_T_REG_READ, 3, pl, 4);
	f[n - 1] ^= 0x10;
	board_exchange(&b, f, n, 3000);
	cr_assert_eq(b.resp[1], USB_T_NAK);
	cr_assert_eq(b.resp[2], 3);
	cr_assert_eq(b.resp[USB_HDR_BYTES], USB_NAK_CRC);
	/* Bad header CRC: no answer at all. */
	n = usb_frame_encode(f, USB_T_REG_READ, 4, pl, 4);
	f[3] ^= 0x01;
	board_exchange(&b, f, n, 3000);
	cr_assert_eq(b.resp_len, 0);
	/* A truncated frame is dropped after the frame timeout. */
	n = usb_frame_encode(f, USB_T_MEM_WRITE, 5, (uint8_t[8]){0}, 8);
	board_exchange(&b, f, n - 5, 50000);
	cr_assert_eq(b.resp_len, 0);
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 6, pl, 4), USB_T_DATA);
	/* Unknown type and wrong length: NAK format. */
	cr_assert_eq(board_request(&b, 0x33, 7, pl, 4), USB_T_NAK);
	cr_assert_eq(b.resp[USB_HDR_BYTES], USB_NAK_FORMAT);
	cr_assert_eq(board_request(&b, USB_T_REG_READ, 8, pl, 3), USB_T_NAK);
	cr_assert_eq(b.resp[USB_HDR_BYTES], USB_NAK_FORMAT);
	/* Memory beyond the end: NAK range. */
	{
		uint32_t end = (uint32_t)ssimusb_mem_bytes() - 2;
		uint8_t wr[8] = {(uint8_t)end,
		                 (uint8_t)(end >> 8),
		                 (uint8_t)(end >> 16),
		                 (uint8_t)(end >> 24),
		                 1,
		                 2,
		                 3,
		                 4};
		cr_assert_eq(board_request(&b, USB_T_MEM_WRITE, 9, wr, 8), USB_T_NAK);
		cr_assert_eq(b.resp[USB_HDR_BYTES], USB_NAK_RANGE);
	}
	ssimusb_destroy(b.sim);
}

/* ================================================================ GEMMs */

static struct sampan_device *open_dev(const char *name)
{
	struct sampan_device *dev = NULL;
	int err = sampan_open(&dev, name);

	cr_assert_eq(err, SAMPAN_OK, "sampan_open(%s): %s: %s", name, sampan_strerror(err),
	             sampan_last_error());
	return dev;
}

/* Small problems: the simulated link moves 40 bytes per microsecond. */
static const struct gemm_limits usb_limits = {.max_dim = 120, .max_macs = 400000, .long_k = 0};

/* Runs @count random GEMMs on @dev; every one must be bit-exact. */
static void run_gemms(struct sampan_device *dev, const char *tag, int count)
{
	uint64_t seed = test_seed(tag);
	struct rng r;

	rng_init(&r, seed);
	for (int i = 0; i < count; i++) {
		struct gemm_case c;
		int err;

		gemm_case_random(&c, &r, &usb_limits);
		err = sampan_gemm(dev, &c.g);
		cr_assert_eq(err, SAMPAN_OK, "%s case %d (%s): %s: %s (SAMPAN_TEST_SEED=%llu)", tag,
		             i, c.desc, sampan_strerror(err), sampan_last_error(),
		             (unsigned long long)seed);
		cr_assert_eq(gemm_case_mismatches(&c, tag), 0,
		             "%s case %d (%s) differs (SAMPAN_TEST_SEED=%llu)", tag, i, c.desc,
		             (unsigned long long)seed);
		gemm_case_free(&c);
	}
}

Test(sim_usb, random_gemms)
{
	struct sampan_device *dev = open_dev("sim-usb");
	struct sampan_info info;

	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	cr_assert_str_eq(info.backend, "sim-usb");
	cr_assert_eq(info.mem_bytes, ssimusb_mem_bytes());
	run_gemms(dev, "sim_usb::random_gemms", 30);
	sampan_close(dev);
}

Test(sim_usb, fast_link_gemms)
{
	struct sampan_device *dev = open_dev("sim-usb:link=100");

	run_gemms(dev, "sim_usb::fast_link_gemms", 6);
	sampan_close(dev);
}

/* ================================================================ faults */

struct fault_param {
	char faults[32];
	unsigned rate; /* mean bytes between faults */
};

ParameterizedTestParameters(sim_usb, recovered_faults)
{
	static struct fault_param params[] = {
	    {"drop", 10000},
	    {"dup", 10000},
	    {"corrupt", 10000},
	    {"stall", 10000},
	    {"drop+dup+corrupt+stall", 10000},
	};
	return cr_make_param_array(struct fault_param, params, COUNT(params));
}

/* Byte faults and stalls are recovered by retries: every GEMM correct. */
ParameterizedTest(struct fault_param *p, sim_usb, recovered_faults)
{
	char name[96], tag[96];
	struct usb_proto_stats ps;
	struct usb_sim_link f;
	struct sampan_device *dev;
	uint64_t seed;

	snprintf(tag, sizeof(tag), "sim_usb::recovered_faults %s", p->faults);
	seed = test_seed(tag);
	snprintf(name, sizeof(name), "sim-usb:faults=%s,every=%u,seed=%llu", p->faults, p->rate,
	         (unsigned long long)(seed % 1000000));
	dev = open_dev(name);
	run_gemms(dev, tag, 12);
	cr_assert_eq(usb_sim_counters(dev, &ps, &f), SAMPAN_OK);
	fprintf(stderr,
	        "%s: injected %llu dropped, %llu duplicated, %llu corrupted, %llu stalls; "
	        "%llu frames, %llu retries, %llu timeouts, %llu bad responses, %llu NAKs\n",
	        tag, (unsigned long long)f.dropped, (unsigned long long)f.duplicated,
	        (unsigned long long)f.corrupted, (unsigned long long)f.stalls,
	        (unsigned long long)ps.frames, (unsigned long long)ps.retries,
	        (unsigned long long)ps.timeouts, (unsigned long long)ps.bad_frames,
	        (unsigned long long)ps.naks);
	cr_assert_gt(f.dropped + f.duplicated + f.corrupted + f.stalls, 0, "no fault was injected");
	if (f.dropped + f.duplicated + f.corrupted)
		cr_assert_gt(ps.retries, 0, "byte faults but no retry");
	sampan_close(dev);
}

ParameterizedTestParameters(sim_usb, reset_mid_transfer)
{
	static struct fault_param params[] = {{"reset", 5000}, {"all", 5000}};
	return cr_make_param_array(struct fault_param, params, COUNT(params));
}

/* A device reset mid-transfer loses the registers: the GEMM fails with a
 * clear error naming the reset, and the next one resynchronises and is
 * correct; the other faults are recovered meanwhile. No GEMM may return a
 * wrong result. */
ParameterizedTest(struct fault_param *p, sim_usb, reset_mid_transfer)
{
	char name[96], tag[96];
	uint64_t seed;
	struct usb_sim_link f;
	struct sampan_device *dev;
	struct rng r;
	int failed = 0, ok_after_reset = 0;

	snprintf(tag, sizeof(tag), "sim_usb::reset_mid_transfer %s", p->faults);
	seed = test_seed(tag);
	rng_init(&r, seed);
	snprintf(name, sizeof(name), "sim-usb:faults=%s,every=%u,seed=%llu", p->faults, p->rate,
	         (unsigned long long)(seed % 1000000));
	dev = open_dev(name);
	for (int i = 0; i < 80 && !(failed && ok_after_reset); i++) {
		struct gemm_case c;
		int err;

		gemm_case_random(&c, &r, &usb_limits);
		err = sampan_gemm(dev, &c.g);
		if (err == SAMPAN_OK) {
			cr_assert_eq(gemm_case_mismatches(&c, tag), 0,
			             "case %d (%s): wrong result (SAMPAN_TEST_SEED=%llu)", i,
			             c.desc, (unsigned long long)seed);
			ok_after_reset |= failed;
		} else {
			cr_assert_eq(err, SAMPAN_ERROR_IO, "case %d: %s: %s", i,
			             sampan_strerror(err), sampan_last_error());
			cr_assert(strstr(sampan_last_error(), "reset") != NULL, "unclear error: %s",
			          sampan_last_error());
			failed++;
		}
		gemm_case_free(&c);
	}
	cr_assert_eq(usb_sim_counters(dev, NULL, &f), SAMPAN_OK);
	cr_assert_gt(f.resets, 0, "no reset was injected (SAMPAN_TEST_SEED=%llu)",
	             (unsigned long long)seed);
	cr_assert_gt(failed, 0, "a reset went unnoticed (SAMPAN_TEST_SEED=%llu)",
	             (unsigned long long)seed);
	cr_assert_gt(ok_after_reset, 0, "no GEMM succeeded after a reset (SAMPAN_TEST_SEED=%llu)",
	             (unsigned long long)seed);
	sampan_close(dev);
}

/* A link that loses nearly everything: a clear error, in bounded time. */
Test(sim_usb, hopeless_link_fails_clearly)
{
	struct sampan_device *dev = open_dev("sim-usb");
	struct sampan_device *bad = NULL;
	int err;

	sampan_close(dev);
	err = sampan_open(&bad, "sim-usb:faults=drop,every=3");
	cr_assert_eq(err, SAMPAN_ERROR_IO, "%s", sampan_last_error());
	cr_assert(strstr(sampan_last_error(), "attempts") != NULL, "%s", sampan_last_error());
}

Test(sim_usb, bad_options)
{
	struct sampan_device *dev = NULL;

	cr_assert_eq(sampan_open(&dev, "sim-usb:faults=melt"), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(sampan_last_error(), "drop") != NULL, "%s", sampan_last_error());
	cr_assert_eq(sampan_open(&dev, "sim-usb:speed=3"), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(sampan_last_error(), "link=") != NULL, "%s", sampan_last_error());
	cr_assert_eq(sampan_open(&dev, "sim-usb:link=0"), SAMPAN_ERROR_INVALID);
	cr_assert_null(dev);
}

/* ================================================================ bridges */

/* The UART and FT245 bridges, in Icarus (sim/usb/tb_bridges.v). */
Test(usb_frame, bridges_under_icarus, .timeout = 120)
{
	char line[256];
	int pass = 0;
	FILE *p = popen("vvp -n " TEST_USB_BRIDGE_VVP " 2>&1", "r");

	cr_assert_not_null(p, "cannot run vvp");
	while (fgets(line, sizeof(line), p)) {
		fputs(line, stderr);
		pass |= strncmp(line, "PASS", 4) == 0;
	}
	cr_assert_eq(pclose(p), 0, "vvp failed");
	cr_assert(pass, "the bridge testbench did not pass");
}

/* ================================================================ usb */

/* No board is attached on CI machines: opening fails clearly, naming what
 * was looked for, and listing devices still works. */
Test(usb, no_board_fails_clearly)
{
	struct sampan_device_desc list[16];
	struct sampan_device *dev = NULL;
	size_t count = 0, boards = 0;
	int err;

	cr_assert_eq(sampan_list_devices(list, COUNT(list), &count), SAMPAN_OK);
	for (size_t i = 0; i < count && i < COUNT(list); i++)
		boards += strncmp(list[i].name, "usb:", 4) == 0;
	if (boards)
		cr_skip_test("a USB board is attached");
	err = sampan_open(&dev, "usb");
	cr_assert_eq(err, SAMPAN_ERROR_NO_DEVICE, "%s: %s", sampan_strerror(err),
	             sampan_last_error());
	cr_assert(strstr(sampan_last_error(), "no sampan USB board found (looked for 0403:6010") !=
	              NULL,
	          "%s", sampan_last_error());
	cr_assert_null(dev);
	err = sampan_open(&dev, "usb:0403:6014:NOPE");
	cr_assert_eq(err, SAMPAN_ERROR_NO_DEVICE, "%s", sampan_last_error());
	cr_assert(strstr(sampan_last_error(), "0403:6014") != NULL, "%s", sampan_last_error());
}

Test(usb, bad_names)
{
	struct sampan_device *dev = NULL;

	cr_assert_eq(sampan_open(&dev, "usb:nothex"), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(sampan_last_error(), "VID:PID") != NULL, "%s", sampan_last_error());
	cr_assert_eq(sampan_open(&dev, "usb:1234:5678"), SAMPAN_ERROR_INVALID);
	cr_assert(strstr(sampan_last_error(), "0403:6014") != NULL, "%s", sampan_last_error());
	cr_assert_null(dev);
}
