/*
 * test_ft601_fake.c - the `usb` backend's FT600/FT601 path, run in process
 * against a test double of libusb (fake_ft60x_usb.c) whose chip forwards
 * to the simulated stream shell: device listing, the configuration check,
 * interface claims, a read request before every bulk read, asynchronous
 * transfers and their cancellation at close, and bit-exact GEMMs through
 * it all. The double encodes the chip's USB behaviour as documented in
 * driver/README.md; a real chip may differ, and this suite cannot tell.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fake_ft60x_usb.h"
#include "gemm_case.h"
#include "sampan.h"
#include "usb/sampan_simusb.h"
#include "util.h"

TestSuite(ft60x_fake, .timeout = 240);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

#define MODE_245 0
#define MODE_600 1
#define CH_1 2
#define CH_4 0

static struct sampan_device *open_dev(const char *name)
{
	struct sampan_device *dev = NULL;
	int err = sampan_open(&dev, name);

	cr_assert_eq(err, SAMPAN_OK, "sampan_open(%s): %s: %s", name, sampan_strerror(err),
	             sampan_last_error());
	return dev;
}

/* What every clean session leaves in the fake's counters. */
static void check_clean_session(void)
{
	const struct fake_ft60x_stats *st = fake_ft60x_stats();

	cr_assert_eq(st->config_reads, 1);
	cr_assert_eq(st->other_control, 0, "FTDI vendor requests sent to an FT60x");
	cr_assert_eq(st->bad_requests, 0);
	cr_assert_eq(st->bad_endpoint, 0);
	cr_assert_eq(st->starved, 0, "IN transfers waited for a read request");
	cr_assert_gt(st->in_transfers, 0);
	cr_assert_geq(st->requests, st->in_transfers);
	cr_assert_eq(st->closes, st->opens);
	cr_assert_eq(st->claimed_at_close, 0, "interfaces %#x not released", st->claimed_at_close);
	cr_assert_eq(st->pending, 0, "%d transfers left in flight", st->pending);
}

Test(ft60x_fake, devices_lists_the_board)
{
	struct sampan_device_desc list[16];
	size_t count = 0;
	int found = 0;

	fake_ft60x_attach(0x601f, MODE_245, CH_1);
	cr_assert_eq(sampan_list_devices(list, COUNT(list), &count), SAMPAN_OK);
	for (size_t i = 0; i < count && i < COUNT(list); i++) {
		if (strcmp(list[i].name, "usb:0403:601f:FAKE601"))
			continue;
		found = 1;
		cr_assert(list[i].available, "%s", list[i].description);
		cr_assert(strstr(list[i].description, "FT601") != NULL, "%s", list[i].description);
	}
	cr_assert(found, "the FT601 is not listed");
}

/* Registers and card memory: HELLO at open, then writes and reads of
 * every length modulo 4 around a 4 KiB frame. */
Test(ft60x_fake, registers_and_memory)
{
	struct sampan_device *dev;
	struct sampan_buffer *buf;
	struct sampan_info info;
	static uint8_t src[9000], dst[9000];
	uint32_t id = 0;

	fake_ft60x_attach(0x601f, MODE_245, CH_1);
	dev = open_dev("usb:0403:601f");
	cr_assert_eq(sampan_get_info(dev, &info), SAMPAN_OK);
	cr_assert_str_eq(info.backend, "usb");
	cr_assert_eq(info.mem_bytes, ssimusb_mem_bytes());
	cr_assert_eq(sampan_reg_read(dev, 0x40, &id), SAMPAN_OK, "%s", sampan_last_error());
	cr_assert_eq(id, 0x4E504D53u);
	cr_assert_eq(sampan_buffer_create(dev, sizeof(src), &buf), SAMPAN_OK);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 131 + 7);
	for (size_t n = 1; n < sizeof(src); n = n * 3 + 1) {
		memset(dst, 0, sizeof(dst));
		cr_assert_eq(sampan_buffer_write(buf, 3, src, n), SAMPAN_OK, "%s",
		             sampan_last_error());
		cr_assert_eq(sampan_buffer_read(buf, 3, dst, n), SAMPAN_OK, "%s",
		             sampan_last_error());
		cr_assert_arr_eq(dst, src, n, "%zu bytes", n);
	}
	sampan_buffer_destroy(buf);
	sampan_close(dev);
	check_clean_session();
}

Test(ft60x_fake, random_gemms)
{
	static const struct gemm_limits lim = {.max_dim = 64, .max_macs = 100000, .long_k = 0};
	uint64_t seed = test_seed("ft60x_fake::random_gemms");
	struct sampan_device *dev;
	struct rng r;

	fake_ft60x_attach(0x601f, MODE_245, CH_1);
	dev = open_dev("usb");
	rng_init(&r, seed);
	for (int i = 0; i < 20; i++) {
		struct gemm_case c;
		int err;

		gemm_case_random(&c, &r, &lim);
		err = sampan_gemm(dev, &c.g);
		cr_assert_eq(err, SAMPAN_OK, "case %d (%s): %s: %s (SAMPAN_TEST_SEED=%llu)", i,
		             c.desc, sampan_strerror(err), sampan_last_error(),
		             (unsigned long long)seed);
		cr_assert_eq(gemm_case_mismatches(&c, "ft60x_fake"), 0,
		             "case %d (%s) differs (SAMPAN_TEST_SEED=%llu)", i, c.desc,
		             (unsigned long long)seed);
		gemm_case_free(&c);
	}
	sampan_close(dev);
	check_clean_session();
}

/* The 16-bit FT600 is driven the same way. */
Test(ft60x_fake, ft600)
{
	struct sampan_device *dev;
	struct rng r;
	struct gemm_case c;

	fake_ft60x_attach(0x601e, MODE_245, CH_1);
	dev = open_dev("usb:0403:601e");
	rng_init(&r, test_seed("ft60x_fake::ft600"));
	gemm_case_shape(&c, &r, 17, 33, 9, 0);
	cr_assert_eq(sampan_gemm(dev, &c.g), SAMPAN_OK, "%s", sampan_last_error());
	cr_assert_eq(gemm_case_mismatches(&c, "ft600"), 0);
	gemm_case_free(&c);
	sampan_close(dev);
	check_clean_session();
}

/* A chip configured otherwise is refused with the reason, and left as it
 * was found (interfaces released, nothing in flight). */
Test(ft60x_fake, other_configurations_refused)
{
	static const struct {
		uint8_t mode, channels;
		const char *why;
	} cases[] = {
	    {MODE_600, CH_1, "600 (multi-channel) FIFO mode"},
	    {MODE_245, CH_4, "4 channels"},
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		struct sampan_device *dev = NULL;
		const struct fake_ft60x_stats *st;
		int err;

		fake_ft60x_attach(0x601f, cases[i].mode, cases[i].channels);
		err = sampan_open(&dev, "usb:0403:601f");
		cr_assert_eq(err, SAMPAN_ERROR_NOT_SUPPORTED, "case %zu: %s: %s", i,
		             sampan_strerror(err), sampan_last_error());
		cr_assert_null(dev);
		cr_assert(strstr(sampan_last_error(), cases[i].why) != NULL, "%s",
		          sampan_last_error());
		cr_assert(strstr(sampan_last_error(), "FT601") != NULL, "%s", sampan_last_error());
		st = fake_ft60x_stats();
		cr_assert_eq(st->config_reads, 1);
		cr_assert_eq(st->in_transfers + st->out_bytes, 0, "data moved on a refused chip");
		cr_assert_eq(st->closes, 1);
		cr_assert_eq(st->claimed_at_close, 0);
		cr_assert_eq(st->pending, 0);
	}
}
