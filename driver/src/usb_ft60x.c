/*
 * usb_ft60x.c - FT600/FT601 read requests and chip configuration (see
 * usb_ft60x.h): byte layouts only, no I/O.
 */
#include "usb_ft60x.h"

#include <stdio.h>
#include <string.h>

/* Offsets in the 152-byte configuration (FT_60XCONFIGURATION, packed):
 * VID, PID, 128 bytes of string descriptors, reserved, power attributes,
 * power consumption (2), reserved, then the data transfer fields. */
#define CFG_VID 0
#define CFG_PID 2
#define CFG_FIFO_CLOCK 137
#define CFG_FIFO_MODE 138
#define CFG_CHANNELS 139
#define CFG_FEATURES 140

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

size_t ft60x_read_request(uint8_t out[FT60X_REQ_BYTES], uint32_t index, uint8_t pipe, uint32_t len)
{
	memset(out, 0, FT60X_REQ_BYTES);
	put_le32(out, index);
	out[4] = pipe;
	out[5] = FT60X_CMD_READ;
	put_le32(out + 8, len);
	return FT60X_REQ_BYTES;
}

int ft60x_parse_config(const uint8_t *buf, size_t n, struct ft60x_config *cfg)
{
	if (n != FT60X_CFG_BYTES)
		return -1;
	cfg->vid = get_le16(buf + CFG_VID);
	cfg->pid = get_le16(buf + CFG_PID);
	cfg->fifo_clock = buf[CFG_FIFO_CLOCK];
	cfg->fifo_mode = buf[CFG_FIFO_MODE];
	cfg->channels = buf[CFG_CHANNELS];
	cfg->features = get_le16(buf + CFG_FEATURES);
	return 0;
}

static const char *channels_name(uint8_t ch)
{
	switch (ch) {
	case FT60X_CH_4:
		return "4 channels";
	case FT60X_CH_2:
		return "2 channels";
	case FT60X_CH_1:
		return "1 channel";
	case FT60X_CH_1_OUT_ONLY:
		return "1 channel, OUT pipe only";
	case FT60X_CH_1_IN_ONLY:
		return "1 channel, IN pipe only";
	default:
		return "an unknown channel setting";
	}
}

int ft60x_check_config(const struct ft60x_config *cfg, char *why, size_t len)
{
	static const char fix[] = "; set 245 FIFO mode with 1 channel (FTDI's FT60X Chip "
	                          "Configuration Programmer)";

	if (cfg->fifo_mode != FT60X_MODE_245) {
		snprintf(
		    why, len, "the chip is in %s FIFO mode, the sampan bridge needs 245 mode%s",
		    cfg->fifo_mode == FT60X_MODE_600 ? "600 (multi-channel)" : "an unknown", fix);
		return -1;
	}
	if (cfg->channels != FT60X_CH_1) {
		snprintf(why, len,
		         "the chip is configured for %s, the sampan bridge needs 1 channel%s",
		         channels_name(cfg->channels), fix);
		return -1;
	}
	if (cfg->features & FT60X_FEAT_NOTIFY_IN_CH1) {
		snprintf(why, len,
		         "the chip announces channel 1 IN data by notification messages, which "
		         "this driver does not read; disable them%s",
		         fix);
		return -1;
	}
	return 0;
}
