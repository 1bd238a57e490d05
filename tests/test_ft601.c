/*
 * test_ft601.c - the FT600/FT601 (USB 3) path where no chip is attached:
 * the byte layout of the read requests and of the chip configuration that
 * the `usb` backend sends and checks (usb_ft60x.c), the backend's FT60x
 * device names with no board, and the RTL bridge against a behavioural
 * chip under Icarus (sim/usb/tb_ft601.v). The libusb transfers themselves
 * need a chip and are not exercised here.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sampan.h"
#include "usb_ft60x.h"

TestSuite(ft60x, .timeout = 60);

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

/* ================================================================ requests */

Test(ft60x, read_request_layout)
{
	static const uint8_t want[FT60X_REQ_BYTES] = {
	    0x04, 0x03, 0x02, 0x01, /* index, little-endian */
	    0x82,                   /* IN pipe of channel 1 */
	    0x01,                   /* read */
	    0x00, 0x00,             /* reserved */
	    0x00, 0x40, 0x00, 0x00, /* 16384 bytes */
	    0,    0,    0,    0,    0, 0, 0, 0};
	uint8_t got[FT60X_REQ_BYTES];

	memset(got, 0xAA, sizeof(got));
	cr_assert_eq(ft60x_read_request(got, 0x01020304u, FT60X_EP_IN(1), 16384), FT60X_REQ_BYTES);
	cr_assert_arr_eq(got, want, sizeof(want));
}

Test(ft60x, read_request_fields)
{
	uint8_t got[FT60X_REQ_BYTES];

	ft60x_read_request(got, 0xFFFFFFFFu, FT60X_EP_IN(4), 0x89ABCDEFu);
	cr_assert_eq(got[0] & got[1] & got[2] & got[3], 0xFF);
	cr_assert_eq(got[4], 0x85);
	cr_assert_eq(got[5], FT60X_CMD_READ);
	cr_assert_eq(got[8], 0xEF);
	cr_assert_eq(got[9], 0xCD);
	cr_assert_eq(got[10], 0xAB);
	cr_assert_eq(got[11], 0x89);
	for (int i = 12; i < FT60X_REQ_BYTES; i++)
		cr_assert_eq(got[i], 0, "byte %d", i);
	cr_assert_eq(FT60X_EP_OUT(1), 0x02);
	cr_assert_eq(FT60X_EP_IN(1), 0x82);
}

/* ================================================================ config */

/* A configuration as the chip would send it, with the given data transfer
 * fields (offsets of FT_60XCONFIGURATION). */
static void make_config(uint8_t *buf, uint8_t clock, uint8_t mode, uint8_t channels,
                        uint16_t features)
{
	memset(buf, 0x5A, FT60X_CFG_BYTES);
	buf[0] = 0x03; /* VID 0x0403 */
	buf[1] = 0x04;
	buf[2] = 0x1F; /* PID 0x601f */
	buf[3] = 0x60;
	buf[137] = clock;
	buf[138] = mode;
	buf[139] = channels;
	buf[140] = (uint8_t)features;
	buf[141] = (uint8_t)(features >> 8);
}

Test(ft60x, parse_config)
{
	uint8_t buf[FT60X_CFG_BYTES];
	struct ft60x_config cfg;

	make_config(buf, 1, FT60X_MODE_245, FT60X_CH_1, 0x0102);
	cr_assert_eq(ft60x_parse_config(buf, sizeof(buf), &cfg), 0);
	cr_assert_eq(cfg.vid, 0x0403);
	cr_assert_eq(cfg.pid, 0x601f);
	cr_assert_eq(cfg.fifo_clock, 1);
	cr_assert_eq(cfg.fifo_mode, FT60X_MODE_245);
	cr_assert_eq(cfg.channels, FT60X_CH_1);
	cr_assert_eq(cfg.features, 0x0102);
}

Test(ft60x, parse_config_rejects_short_reads)
{
	uint8_t buf[FT60X_CFG_BYTES + 1];
	struct ft60x_config cfg = {.vid = 0x1234};

	make_config(buf, 0, FT60X_MODE_245, FT60X_CH_1, 0);
	cr_assert_eq(ft60x_parse_config(buf, FT60X_CFG_BYTES - 1, &cfg), -1);
	cr_assert_eq(ft60x_parse_config(buf, FT60X_CFG_BYTES + 1, &cfg), -1);
	cr_assert_eq(ft60x_parse_config(buf, 0, &cfg), -1);
	cr_assert_eq(cfg.vid, 0x1234, "written on failure");
}

Test(ft60x, check_config)
{
	static const struct {
		uint8_t mode, channels;
		uint16_t features;
		const char *why; /* NULL: accepted */
	} cases[] = {
	    {FT60X_MODE_245, FT60X_CH_1, 0, NULL},
	    {FT60X_MODE_245, FT60X_CH_1, 0x0003, NULL}, /* other features are fine */
	    {FT60X_MODE_600, FT60X_CH_1, 0, "600 (multi-channel) FIFO mode"},
	    {7, FT60X_CH_1, 0, "unknown FIFO mode"},
	    {FT60X_MODE_245, FT60X_CH_4, 0, "configured for 4 channels"},
	    {FT60X_MODE_245, FT60X_CH_2, 0, "configured for 2 channels"},
	    {FT60X_MODE_245, FT60X_CH_1_OUT_ONLY, 0, "OUT pipe only"},
	    {FT60X_MODE_245, FT60X_CH_1_IN_ONLY, 0, "IN pipe only"},
	    {FT60X_MODE_245, 9, 0, "unknown channel setting"},
	    {FT60X_MODE_245, FT60X_CH_1, FT60X_FEAT_NOTIFY_IN_CH1, "notification"},
	};

	for (size_t i = 0; i < COUNT(cases); i++) {
		uint8_t buf[FT60X_CFG_BYTES];
		struct ft60x_config cfg;
		char why[256] = "";
		int rc;

		make_config(buf, 0, cases[i].mode, cases[i].channels, cases[i].features);
		cr_assert_eq(ft60x_parse_config(buf, sizeof(buf), &cfg), 0);
		rc = ft60x_check_config(&cfg, why, sizeof(why));
		if (!cases[i].why) {
			cr_assert_eq(rc, 0, "case %zu: %s", i, why);
			continue;
		}
		cr_assert_eq(rc, -1, "case %zu accepted", i);
		cr_assert(strstr(why, cases[i].why) != NULL, "case %zu: %s", i, why);
		cr_assert(strstr(why, "245 FIFO mode with 1 channel") != NULL, "case %zu: %s", i,
		          why);
	}
}

/* The reason is cut to the buffer, never overrun. */
Test(ft60x, check_config_small_buffer)
{
	uint8_t buf[FT60X_CFG_BYTES];
	struct ft60x_config cfg;
	char why[12];

	memset(why, 'x', sizeof(why));
	make_config(buf, 0, FT60X_MODE_600, FT60X_CH_1, 0);
	ft60x_parse_config(buf, sizeof(buf), &cfg);
	cr_assert_eq(ft60x_check_config(&cfg, why, 8), -1);
	cr_assert_eq(strlen(why), 7);
	cr_assert_eq(why[8], 'x');
}

/* ================================================================ backend */

/* With no FT60x attached, its names are known bridges that are simply
 * absent: a clear "no board" error naming the ID, not "unknown". */
Test(ft60x, no_board_fails_clearly)
{
	static const char *names[] = {"usb:0403:601f", "usb:0403:601e", "usb:0403:601f:SERIAL1"};
	struct sampan_device_desc list[16];
	size_t count = 0;

	cr_assert_eq(sampan_list_devices(list, COUNT(list), &count), SAMPAN_OK);
	for (size_t i = 0; i < count && i < COUNT(list); i++)
		if (strncmp(list[i].name, "usb:0403:601", 12) == 0)
			cr_skip_test("an FT60x board is attached: %s", list[i].name);
	for (size_t i = 0; i < COUNT(names); i++) {
		struct sampan_device *dev = NULL;
		int err = sampan_open(&dev, names[i]);

		cr_assert_eq(err, SAMPAN_ERROR_NO_DEVICE, "%s: %s: %s", names[i],
		             sampan_strerror(err), sampan_last_error());
		char id[10];

		snprintf(id, sizeof(id), "%s", names[i] + 4); /* VID:PID */
		cr_assert(strstr(sampan_last_error(), id) != NULL, "%s: %s", names[i],
		          sampan_last_error());
		cr_assert_null(dev);
	}
}

/* ================================================================ bridge */

/* sampan_ft601_fifo at 16 and 32 bits in front of the stream shell, in
 * Icarus: a full stream-shell conversation through a behavioural chip. */
Test(ft60x, bridge_under_icarus, .timeout = 120)
{
	char line[256];
	int pass = 0;
	FILE *p = popen("vvp -n " TEST_FT601_VVP " 2>&1", "r");

	cr_assert_not_null(p, "cannot run vvp");
	while (fgets(line, sizeof(line), p)) {
		fputs(line, stderr);
		pass |= strncmp(line, "PASS", 4) == 0;
	}
	cr_assert_eq(pclose(p), 0, "vvp failed");
	cr_assert(pass, "the FT60x bridge testbench did not pass");
}
