/*
 * usb_ft60x.h - the USB side of FTDI's FT600/FT601 (USB 3 to a 16/32-bit
 * FIFO bus) as the `usb` backend drives it through libusb, without FTDI's
 * D3XX library. Pure encoders and decoders only (no libusb here), so that
 * they are tested without a chip.
 *
 * The chip has two interfaces. Interface 0 (control) has the session
 * endpoint OUT 0x01 and a notification endpoint IN 0x81; interface 1 (data)
 * has one OUT and one IN bulk endpoint per FIFO channel: 0x02/0x82 for
 * channel 1, up to 0x05/0x85. Writes are plain bulk OUT transfers. A bulk
 * IN transfer is served only after a "read request" on the session
 * endpoint names the IN pipe and the number of bytes wanted (what D3XX
 * does before each FT_ReadPipe). The chip's configuration (FIFO mode,
 * channels, clock) is read with a vendor control request.
 *
 * These layouts follow FTDI's D3XX programming guide (the
 * FT_60XCONFIGURATION structure) and the open-source Linux drivers that
 * speak the same protocol; they have not been checked against a chip here.
 */
#ifndef SAMPAN_USB_FT60X_H
#define SAMPAN_USB_FT60X_H

#include <stddef.h>
#include <stdint.h>

#define FT60X_VID 0x0403
#define FT600_PID 0x601e
#define FT601_PID 0x601f

#define FT60X_IFACE_CTRL 0
#define FT60X_IFACE_DATA 1
#define FT60X_EP_SESSION_OUT 0x01
#define FT60X_EP_OUT(ch) (0x01 + (ch)) /* channel 1..4 */
#define FT60X_EP_IN(ch) (0x81 + (ch))

/* Read request on the session endpoint. */
#define FT60X_REQ_BYTES 20
#define FT60X_CMD_READ 0x01

/* Chip configuration: vendor request, device recipient, 152 bytes. */
#define FT60X_CFG_REQUEST 0xCF
#define FT60X_CFG_READ_VALUE 1 /* wValue of the read (IN) request */
#define FT60X_CFG_BYTES 152

enum ft60x_fifo_mode { FT60X_MODE_245 = 0, FT60X_MODE_600 = 1 };

/* ChannelConfig values. */
enum ft60x_channels {
	FT60X_CH_4 = 0,
	FT60X_CH_2 = 1,
	FT60X_CH_1 = 2,
	FT60X_CH_1_OUT_ONLY = 3,
	FT60X_CH_1_IN_ONLY = 4,
};

/* OptionalFeatureSupport: IN data of channel 1 announced on the
 * notification endpoint instead of being served on read requests. */
#define FT60X_FEAT_NOTIFY_IN_CH1 0x0004

/* The fields of the configuration the backend uses. */
struct ft60x_config {
	uint16_t vid, pid;
	uint8_t fifo_clock; /* 0 100 MHz, 1 66 MHz, 2 50 MHz, 3 40 MHz */
	uint8_t fifo_mode;  /* enum ft60x_fifo_mode */
	uint8_t channels;   /* enum ft60x_channels */
	uint16_t features;  /* OptionalFeatureSupport */
};

/*
 * Encodes the read request for @len bytes from IN pipe @pipe (0x82 for
 * channel 1) into @out: request index (u32, counting up per request),
 * pipe, command, two reserved bytes, length (u32), eight reserved bytes;
 * little-endian. Returns FT60X_REQ_BYTES.
 */
size_t ft60x_read_request(uint8_t out[FT60X_REQ_BYTES], uint32_t index, uint8_t pipe, uint32_t len);

/*
 * Decodes the @n bytes of a configuration read into @cfg. Returns 0, or
 * -1 (and leaves @cfg alone) when @n is not FT60X_CFG_BYTES.
 */
int ft60x_parse_config(const uint8_t *buf, size_t n, struct ft60x_config *cfg);

/*
 * Checks that @cfg is what the sampan bridge (rtl/stream/sampan_ft601_fifo.v)
 * needs: 245 synchronous FIFO mode, one channel with both directions, IN
 * data served on read requests. Returns 0, or -1 with the reason written to
 * @why (@len bytes).
 */
int ft60x_check_config(const struct ft60x_config *cfg, char *why, size_t len);

#endif
