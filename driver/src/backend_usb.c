/*
 * backend_usb.c - the `usb` device: a board with the stream shell
 * (rtl/stream/) behind an FTDI USB bridge, driven through libusb-1.0 with
 * the framing code of usb_proto.c (the same code as `sim-usb`).
 *
 * Name: usb[:VID:PID[:SERIAL]] (hexadecimal VID and PID). Without them the
 * first attached board of a known kind is used. Bridges:
 *   0403:6010  FT2232H, channel B as a UART at 3 Mbaud, no flow control
 *              (the iCEBreaker and the Arty A7: channel A is their flash or
 *              JTAG programmer; only TXD and RXD reach the FPGA)
 *   0403:6014  FT232H in 245 synchronous FIFO mode (bit mode 0x40)
 *   1209:0001  the project's ID (pid.codes test PID): an FT232H board whose
 *              EEPROM carries it, used in 245 synchronous FIFO mode
 *   0403:601e  FT600 (USB 3, 16-bit FIFO bus) in 245 synchronous FIFO mode
 *   0403:601f  FT601 (USB 3, 32-bit FIFO bus) in 245 synchronous FIFO mode
 * For the FT2232H/FT232H the backend configures the chip itself (reset,
 * baud-rate divisor, data format, flow control, latency timer, bit mode,
 * purge) and strips the two modem-status bytes at the start of every
 * max-packet-size chunk the chip sends. The FT600/FT601 take no such
 * setup: their configuration is read and checked (245 mode, one channel),
 * and every bulk read is preceded by a read request on the session
 * endpoint (usb_ft60x.h). Both stream with asynchronous bulk transfers: a
 * few reads always in flight, writes in chunks.
 */
#include <inttypes.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "isa.h"
#include "usb_ft60x.h"
#include "usb_proto.h"

#define USB_OPTIONS "VID:PID[:SERIAL] (hex), e.g. usb:0403:6014"

#define FTDI_VID 0x0403
#define SAMPAN_VID 0x1209 /* pid.codes */
#define SAMPAN_PID 0x0001 /* its test PID, until the project has its own */

/* FTDI vendor requests (host to device, vendor, device). */
#define SIO_REQ_OUT 0x40
#define SIO_RESET 0x00
#define SIO_SET_FLOW_CTRL 0x02
#define SIO_SET_BAUDRATE 0x03
#define SIO_SET_DATA 0x04
#define SIO_SET_LATENCY_TIMER 0x09
#define SIO_SET_BITMODE 0x0B
#define SIO_RESET_SIO 0
#define SIO_PURGE_RX 1
#define SIO_PURGE_TX 2
#define SIO_RTS_CTS_HS (0x1 << 8)
#define SIO_DISABLE_FLOW_CTRL 0x0
#define SIO_DATA_8N1 0x0008
#define BITMODE_RESET 0x00
#define BITMODE_SYNCFF 0x40

#define CTRL_TIMEOUT_MS 1000
#define LATENCY_MS 1      /* flush partial packets after 1 ms */
#define UART_BAUD 3000000 /* FT2232H channel B to the iCEBreaker's FPGA */
#define RX_TRANSFERS 4    /* reads kept in flight */
#define RX_TRANSFER_BYTES 16384
#define TX_CHUNK 16384
#define RX_RING_BYTES (1 << 20)
#define BASE_TIMEOUT_US 200000 /* USB latency: frames, latency timer, scheduling */
#define QUIET_US 50000         /* the board's FRAME_TIMEOUT is 2^20 cycles (~20 ms) */

/* How a bridge is driven. */
enum bridge_mode { MODE_UART, MODE_SYNC_FIFO, MODE_FT60X, MODE_UNSUPPORTED };

struct bridge {
	uint16_t vid, pid;
	const char *chip;
	enum bridge_mode mode;
	int interface;        /* 0-based USB (data) interface: channel A = 0, B = 1 */
	uint64_t bytes_per_s; /* payload rate, for protocol deadlines */
};

static const struct bridge bridges[] = {
    {FTDI_VID, 0x6010, "FT2232H", MODE_UART, 1, UART_BAUD / 10},
    {FTDI_VID, 0x6014, "FT232H", MODE_SYNC_FIFO, 0, 40000000},
    {SAMPAN_VID, SAMPAN_PID, "sampan FT232H", MODE_SYNC_FIFO, 0, 40000000},
    /* The shell takes a byte per core cycle: deadlines as for 40 MB/s. */
    {FTDI_VID, FT600_PID, "FT600", MODE_FT60X, FT60X_IFACE_DATA, 40000000},
    {FTDI_VID, FT601_PID, "FT601", MODE_FT60X, FT60X_IFACE_DATA, 40000000},
};

#define N_BRIDGES (sizeof(bridges) / sizeof(bridges[0]))
#define LOOKED_FOR "0403:6010, 0403:6014, 1209:0001, 0403:601e, 0403:601f"

struct usb_ctx {
	libusb_context *usb;
	libusb_device_handle *h;
	const struct bridge *br;
	int claimed;
	int claimed_ctrl; /* FT60x: its control interface too */
	int status_bytes; /* at the start of each max-packet chunk read: FTDI 2, FT60x 0 */
	unsigned char ep_in, ep_out;
	int max_packet;
	/* received payload (status bytes stripped), a ring */
	uint8_t *ring;
	size_t head, len;
	struct libusb_transfer *rx[RX_TRANSFERS];
	int rx_active;  /* transfers submitted and not completed */
	int rx_error;   /* a libusb_transfer_status other than COMPLETED, or 0 */
	int tx_pending; /* write transfers in flight */
	int tx_error;
	int rq_active;     /* FT60x read requests in flight */
	uint32_t rq_index; /* FT60x: index of the next read request */
	struct usb_proto proto;
};

/* ================================================================ errors */

static int usb_fail(int rc, const char *what)
{
	int err;

	switch (rc) {
	case LIBUSB_ERROR_NO_DEVICE:
	case LIBUSB_ERROR_NOT_FOUND:
		err = SAMPAN_ERROR_NO_DEVICE;
		break;
	case LIBUSB_ERROR_ACCESS:
		return drv_error(SAMPAN_ERROR_NO_DEVICE,
		                 "device 'usb': %s: permission denied (%s); install a udev rule "
		                 "giving your user access to the board",
		                 what, libusb_error_name(rc));
	case LIBUSB_ERROR_BUSY:
		return drv_error(
		    SAMPAN_ERROR_BUSY,
		    "device 'usb': %s: the interface is in use by another program (%s)", what,
		    libusb_error_name(rc));
	case LIBUSB_ERROR_TIMEOUT:
		err = SAMPAN_ERROR_TIMEOUT;
		break;
	case LIBUSB_ERROR_NO_MEM:
		err = SAMPAN_ERROR_NO_MEM;
		break;
	case LIBUSB_ERROR_NOT_SUPPORTED:
		err = SAMPAN_ERROR_NOT_SUPPORTED;
		break;
	default:
		err = SAMPAN_ERROR_IO;
	}
	return drv_error(err, "device 'usb': %s failed: %s (%s)", what, libusb_strerror(rc),
	                 libusb_error_name(rc));
}

/* ================================================================ FTDI setup */

/*
 * Encodes the baud-rate divisor of a high-speed FTDI chip (FT2232H, FT232H)
 * for @baud: a 12 MHz reference (120 MHz / 10) divided by n + k/8, the
 * eighths coded in three bits spread over value and index. Writes the
 * wValue/wIndex pair of SIO_SET_BAUDRATE for interface @iface (1-based) and
 * returns the baud rate actually obtained.
 */
static uint32_t ftdi_h_divisor(uint32_t baud, int iface, uint16_t *value, uint16_t *index)
{
	static const uint8_t frac_code[8] = {0, 3, 2, 4, 1, 5, 6, 7};
	const uint32_t ref = 12000000;
	uint32_t div8 = (ref * 8u + baud / 2) / baud; /* divisor in eighths, rounded */
	uint32_t enc;

	if (div8 < 8)
		div8 = 8;
	if (div8 > 0x3FFF * 8)
		div8 = 0x3FFF * 8;
	if (div8 == 8)
		enc = 0; /* n = 1: the full 12 Mbaud */
	else if (div8 == 12)
		enc = 1; /* n = 1.5 */
	else
		enc = (div8 >> 3) | (uint32_t)frac_code[div8 & 7] << 14;
	enc |= 0x20000; /* use the 120 MHz / 10 reference */
	*value = (uint16_t)enc;
	*index = (uint16_t)(((enc >> 8) & 0xFF00) | (uint32_t)iface);
	return ref * 8u / div8;
}

static int sio(struct usb_ctx *c, uint8_t req, uint16_t value, uint16_t index, const char *what)
{
	int rc =
	    libusb_control_transfer(c->h, SIO_REQ_OUT, req, value, index, NULL, 0, CTRL_TIMEOUT_MS);

	return rc < 0 ? usb_fail(rc, what) : SAMPAN_OK;
}

/* Puts the chip into the mode its board needs and empties its buffers. */
static int ftdi_configure(struct usb_ctx *c)
{
	uint16_t iface = (uint16_t)(c->br->interface + 1), value, index;
	int err;

	if ((err = sio(c, SIO_RESET, SIO_RESET_SIO, iface, "FTDI reset")) < 0 ||
	    (err = sio(c, SIO_SET_LATENCY_TIMER, LATENCY_MS, iface, "FTDI latency timer")) < 0 ||
	    (err = sio(c, SIO_SET_BITMODE, BITMODE_RESET << 8 | 0xFF, iface,
	               "FTDI bit mode reset")) < 0)
		return err;
	if (c->br->mode == MODE_UART) {
		ftdi_h_divisor(UART_BAUD, iface, &value, &index);
		if ((err = sio(c, SIO_SET_BAUDRATE, value, index, "FTDI baud rate")) < 0 ||
		    (err = sio(c, SIO_SET_DATA, SIO_DATA_8N1, iface, "FTDI data format")) < 0 ||
		    /* No RTS/CTS: the boards do not wire CTS# to the FPGA, and
		     * with it floating (pulled up) the chip would hold every
		     * byte. The stop-and-wait protocol paces the host. */
		    (err = sio(c, SIO_SET_FLOW_CTRL, 0, SIO_DISABLE_FLOW_CTRL | iface,
		               "FTDI flow control")) < 0)
			return err;
	} else {
		/* 245 synchronous FIFO: the EEPROM must select 245 FIFO mode,
		 * the bit mode switches it to synchronous; RTS/CTS flow
		 * control keeps the chip's FIFO from overrunning. */
		if ((err = sio(c, SIO_SET_BITMODE, BITMODE_SYNCFF << 8 | 0xFF, iface,
		               "FTDI synchronous FIFO mode")) < 0 ||
		    (err = sio(c, SIO_SET_FLOW_CTRL, 0, SIO_RTS_CTS_HS | iface,
		               "FTDI flow control")) < 0)
			return err;
	}
	if ((err = sio(c, SIO_RESET, SIO_PURGE_RX, iface, "FTDI purge")) < 0 ||
	    (err = sio(c, SIO_RESET, SIO_PURGE_TX, iface, "FTDI purge")) < 0)
		return err;
	return SAMPAN_OK;
}

/* ================================================================ FT60x setup */

/*
 * Reads the FT600/FT601 configuration and checks that it is the one the
 * sampan bridge speaks (245 synchronous FIFO, one channel). The chip keeps
 * its configuration in its own memory; the driver does not rewrite it.
 */
static int ft60x_configure(struct usb_ctx *c)
{
	uint8_t buf[FT60X_CFG_BYTES];
	struct ft60x_config cfg;
	char why[256];
	int rc = libusb_control_transfer(
	    c->h, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE,
	    FT60X_CFG_REQUEST, FT60X_CFG_READ_VALUE, 0, buf, sizeof(buf), CTRL_TIMEOUT_MS);

	if (rc < 0)
		return usb_fail(rc, "reading the FT60x configuration");
	if (ft60x_parse_config(buf, (size_t)rc, &cfg) < 0)
		return drv_error(SAMPAN_ERROR_IO,
		                 "device 'usb': the %s sent %d bytes of configuration, expected %d",
		                 c->br->chip, rc, FT60X_CFG_BYTES);
	if (ft60x_check_config(&cfg, why, sizeof(why)) < 0)
		return drv_error(SAMPAN_ERROR_NOT_SUPPORTED, "device 'usb': %s: %s", c->br->chip,
		                 why);
	return SAMPAN_OK;
}

/* ================================================================ transfers */

/* Appends the payload of one read: every max-packet-size chunk of an FTDI
 * read starts with two modem-status bytes, which are dropped (the FT60x
 * sends none). */
static void rx_store(struct usb_ctx *c, const uint8_t *buf, int n)
{
	for (int off = 0; off < n; off += c->max_packet) {
		int chunk = n - off < c->max_packet ? n - off : c->max_packet;

		for (int i = c->status_bytes; i < chunk; i++) {
			if (c->len == RX_RING_BYTES)
				return; /* overrun: the protocol sees lost bytes and retries */
			c->ring[(c->head + c->len) % RX_RING_BYTES] = buf[off + i];
			c->len++;
		}
	}
}

static void LIBUSB_CALL rq_done(struct libusb_transfer *t)
{
	struct usb_ctx *c = t->user_data;

	c->rq_active--;
	if (t->status != LIBUSB_TRANSFER_COMPLETED && t->status != LIBUSB_TRANSFER_CANCELLED)
		c->rx_error = (int)t->status;
	/* LIBUSB_TRANSFER_FREE_BUFFER | FREE_TRANSFER: libusb frees both. */
}

/*
 * FT60x: asks the chip for up to @len bytes on the IN pipe (an
 * asynchronous bulk write of a read request to the session endpoint). A
 * bulk IN transfer on that pipe is served only after its request.
 */
static int ft60x_request(struct usb_ctx *c, uint32_t len)
{
	struct libusb_transfer *t = libusb_alloc_transfer(0);
	uint8_t *buf = malloc(FT60X_REQ_BYTES);
	int rc;

	if (!t || !buf) {
		free(buf);
		libusb_free_transfer(t);
		return LIBUSB_ERROR_NO_MEM;
	}
	ft60x_read_request(buf, c->rq_index++, c->ep_in, len);
	libusb_fill_bulk_transfer(t, c->h, FT60X_EP_SESSION_OUT, buf, FT60X_REQ_BYTES, rq_done, c,
	                          CTRL_TIMEOUT_MS);
	t->flags = LIBUSB_TRANSFER_FREE_BUFFER | LIBUSB_TRANSFER_FREE_TRANSFER;
	rc = libusb_submit_transfer(t);
	if (rc < 0) {
		libusb_free_transfer(t); /* frees buf too (FREE_BUFFER) */
		return rc;
	}
	c->rq_active++;
	return 0;
}

/* Puts a read back in flight (after its read request on an FT60x). */
static int rx_submit(struct usb_ctx *c, struct libusb_transfer *t)
{
	int rc;

	if (c->br->mode == MODE_FT60X && (rc = ft60x_request(c, (uint32_t)t->length)) < 0)
		return rc;
	return libusb_submit_transfer(t);
}

static void LIBUSB_CALL rx_done(struct libusb_transfer *t)
{
	struct usb_ctx *c = t->user_data;

	c->rx_active--;
	if (t->status == LIBUSB_TRANSFER_COMPLETED) {
		rx_store(c, t->buffer, t->actual_length);
		if (rx_submit(c, t) == 0)
			c->rx_active++;
		else
			c->rx_error = LIBUSB_TRANSFER_ERROR;
	} else if (t->status != LIBUSB_TRANSFER_CANCELLED) {
		c->rx_error = (int)t->status;
	}
}

static void LIBUSB_CALL tx_done(struct libusb_transfer *t)
{
	struct usb_ctx *c = t->user_data;

	c->tx_pending--;
	if (t->status != LIBUSB_TRANSFER_COMPLETED || t->actual_length != t->length)
		c->tx_error =
		    t->status == LIBUSB_TRANSFER_COMPLETED ? LIBUSB_TRANSFER_ERROR : (int)t->status;
	free(t->buffer);
	libusb_free_transfer(t);
}

static const char *transfer_status(int s)
{
	switch (s) {
	case LIBUSB_TRANSFER_TIMED_OUT:
		return "timed out";
	case LIBUSB_TRANSFER_STALL:
		return "endpoint stalled";
	case LIBUSB_TRANSFER_NO_DEVICE:
		return "device disconnected";
	case LIBUSB_TRANSFER_OVERFLOW:
		return "overflow";
	default:
		return "transfer error";
	}
}

/*
 * The link's clock in microseconds (CLOCK_MONOTONIC), for every deadline of
 * this backend. Weak: the libusb test double tests/fake_ft60x_usb.c
 * supplies its simulated board's time instead, so that deadlines there
 * count device time and not the simulator's speed. Not part of the API.
 */
uint64_t drv_usb_now_us(void);

__attribute__((weak)) uint64_t drv_usb_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* Handles libusb events for at most @us microseconds. */
static int pump(struct usb_ctx *c, uint64_t us)
{
	struct timeval tv = {.tv_sec = (time_t)(us / 1000000u),
	                     .tv_usec = (suseconds_t)(us % 1000000u)};
	int rc = libusb_handle_events_timeout_completed(c->usb, &tv, NULL);

	if (rc < 0 && rc != LIBUSB_ERROR_INTERRUPTED)
		return usb_fail(rc, "event handling");
	if (c->rx_error)
		return drv_error(c->rx_error == LIBUSB_TRANSFER_NO_DEVICE ? SAMPAN_ERROR_NO_DEVICE
		                                                          : SAMPAN_ERROR_IO,
		                 "device 'usb': read: %s", transfer_status(c->rx_error));
	if (c->tx_error)
		return drv_error(c->tx_error == LIBUSB_TRANSFER_NO_DEVICE ? SAMPAN_ERROR_NO_DEVICE
		                                                          : SAMPAN_ERROR_IO,
		                 "device 'usb': write: %s", transfer_status(c->tx_error));
	return SAMPAN_OK;
}

static int link_send(void *ctx, const uint8_t *src, size_t n)
{
	struct usb_ctx *c = ctx;
	uint64_t deadline;
	int err;

	for (size_t off = 0; off < n; off += TX_CHUNK) {
		size_t len = n - off < TX_CHUNK ? n - off : TX_CHUNK;
		struct libusb_transfer *t = libusb_alloc_transfer(0);
		uint8_t *buf = malloc(len);
		int rc;

		if (!t || !buf) {
			free(buf);
			libusb_free_transfer(t);
			return drv_error(SAMPAN_ERROR_NO_MEM, "device 'usb': out of memory");
		}
		memcpy(buf, src + off, len);
		libusb_fill_bulk_transfer(t, c->h, c->ep_out, buf, (int)len, tx_done, c,
		                          CTRL_TIMEOUT_MS);
		rc = libusb_submit_transfer(t);
		if (rc < 0) {
			free(buf);
			libusb_free_transfer(t);
			return usb_fail(rc, "bulk write");
		}
		c->tx_pending++;
	}
	/* Writes complete in order; wait for all (bounded by their timeouts). */
	deadline = drv_usb_now_us() + 2u * CTRL_TIMEOUT_MS * 1000u;
	while (c->tx_pending && drv_usb_now_us() < deadline)
		if ((err = pump(c, 10000)) < 0)
			return err;
	if (c->tx_pending)
		return drv_error(SAMPAN_ERROR_TIMEOUT, "device 'usb': bulk write did not complete");
	return SAMPAN_OK;
}

static int link_recv(void *ctx, uint8_t *dst, size_t max, size_t *got, uint64_t timeout_us)
{
	struct usb_ctx *c = ctx;
	uint64_t deadline = drv_usb_now_us() + timeout_us;
	size_t n;
	int err;

	while (c->len == 0) {
		uint64_t now = drv_usb_now_us();

		if (now >= deadline)
			break;
		if ((err = pump(c, deadline - now)) < 0)
			return err;
	}
	n = c->len < max ? c->len : max;
	for (size_t i = 0; i < n; i++)
		dst[i] = c->ring[(c->head + i) % RX_RING_BYTES];
	c->head = (c->head + n) % RX_RING_BYTES;
	c->len -= n;
	*got = n;
	return SAMPAN_OK;
}

static int link_purge(void *ctx)
{
	struct usb_ctx *c = ctx;
	uint16_t iface = (uint16_t)(c->br->interface + 1);
	int err;

	if (c->br->mode == MODE_FT60X) {
		/* No purge request: drop what was received; the framing
		 * resynchronises on whatever arrives later. */
		c->head = c->len = 0;
		return SAMPAN_OK;
	}
	if ((err = sio(c, SIO_RESET, SIO_PURGE_RX, iface, "FTDI purge")) < 0 ||
	    (err = sio(c, SIO_RESET, SIO_PURGE_TX, iface, "FTDI purge")) < 0)
		return err;
	c->head = c->len = 0;
	return SAMPAN_OK;
}

static uint64_t link_now_us(void *ctx)
{
	(void)ctx;
	return drv_usb_now_us();
}

static const struct usb_link_ops usb_link = {
    .send = link_send,
    .recv = link_recv,
    .purge = link_purge,
    .now_us = link_now_us,
};

/* ================================================================ discovery */

static const struct bridge *find_bridge(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < N_BRIDGES; i++)
		if (bridges[i].vid == vid && bridges[i].pid == pid)
			return &bridges[i];
	return NULL;
}

/* The serial number of @dev, or "" when it cannot be read; sets @access
 * to 0 when the device cannot be opened. */
static void read_serial(libusb_device *dev, const struct libusb_device_descriptor *d, char *out,
                        size_t len, int *access)
{
	libusb_device_handle *h;

	out[0] = '\0';
	*access = libusb_open(dev, &h) == 0;
	if (!*access)
		return;
	if (d->iSerialNumber && libusb_get_string_descriptor_ascii(
	                            h, d->iSerialNumber, (unsigned char *)out, (int)len) < 0)
		out[0] = '\0';
	libusb_close(h);
}

static int usb_enumerate(struct sampan_device_desc *out, size_t max, size_t *count)
{
	libusb_context *usb;
	libusb_device **list;
	ssize_t n;
	size_t total = 0;

	*count = 0;
	if (libusb_init(&usb) < 0)
		return SAMPAN_OK; /* no USB here: no boards */
	n = libusb_get_device_list(usb, &list);
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor d;
		const struct bridge *br;
		char serial[64];
		int access;

		if (libusb_get_device_descriptor(list[i], &d) < 0 ||
		    !(br = find_bridge(d.idVendor, d.idProduct)))
			continue;
		if (total < max) {
			struct sampan_device_desc *e = &out[total];

			read_serial(list[i], &d, serial, sizeof(serial), &access);
			memset(e, 0, sizeof(*e));
			snprintf(e->name, sizeof(e->name), "usb:%04x:%04x%s%.40s", d.idVendor,
			         d.idProduct, serial[0] ? ":" : "", serial);
			snprintf(e->description, sizeof(e->description),
			         "sampan board on %s (bus %u, address %u)%s", br->chip,
			         libusb_get_bus_number(list[i]), libusb_get_device_address(list[i]),
			         !access                        ? ": permission denied"
			         : br->mode == MODE_UNSUPPORTED ? ": bridge not supported yet"
			                                        : "");
			e->available = access && br->mode != MODE_UNSUPPORTED;
		}
		total++;
	}
	if (n >= 0)
		libusb_free_device_list(list, 1);
	libusb_exit(usb);
	*count = total;
	return SAMPAN_OK;
}

/* Parses "VID:PID[:SERIAL]" (or ""). */
static int parse_name(const char *options, int *vid, int *pid, char *serial, size_t len)
{
	unsigned v, p;
	int used = 0;

	*vid = *pid = -1;
	serial[0] = '\0';
	if (!*options)
		return SAMPAN_OK;
	if (sscanf(options, "%4x:%4x%n", &v, &p, &used) != 2 ||
	    (options[used] != '\0' && options[used] != ':') ||
	    (options[used] == ':' && strlen(options + used + 1) >= len))
		return drv_error(SAMPAN_ERROR_INVALID, "device 'usb:%s': expected usb[:%s]",
		                 options, USB_OPTIONS);
	*vid = (int)v;
	*pid = (int)p;
	if (options[used] == ':')
		snprintf(serial, len, "%s", options + used + 1);
	return SAMPAN_OK;
}

/* Opens the first matching board into @c. */
static int open_board(struct usb_ctx *c, int vid, int pid, const char *serial)
{
	libusb_device **list;
	ssize_t n = libusb_get_device_list(c->usb, &list);
	int err = SAMPAN_ERROR_NO_DEVICE, rc;

	if (n < 0)
		return usb_fail((int)n, "device list");
	if (vid < 0)
		drv_error(SAMPAN_ERROR_NO_DEVICE, "no sampan USB board found (looked for %s)",
		          LOOKED_FOR);
	else
		drv_error(SAMPAN_ERROR_NO_DEVICE, "no sampan USB board %04x:%04x%s%s found", vid,
		          pid, serial[0] ? " with serial " : "", serial);
	for (ssize_t i = 0; i < n && !c->h; i++) {
		struct libusb_device_descriptor d;
		const struct bridge *br;
		char sn[64];
		int access;

		if (libusb_get_device_descriptor(list[i], &d) < 0 ||
		    (vid >= 0 && (d.idVendor != vid || d.idProduct != pid)) ||
		    !(br = find_bridge(d.idVendor, d.idProduct)))
			continue;
		if (serial[0]) {
			read_serial(list[i], &d, sn, sizeof(sn), &access);
			if (strcmp(sn, serial))
				continue;
		}
		if (br->mode == MODE_UNSUPPORTED) {
			err =
			    drv_error(SAMPAN_ERROR_NOT_SUPPORTED,
			              "device 'usb': %04x:%04x is an %s; its bridge in the stream "
			              "shell is not written yet (FT232H and FT2232H work)",
			              d.idVendor, d.idProduct, br->chip);
			continue;
		}
		rc = libusb_open(list[i], &c->h);
		if (rc < 0) {
			err = usb_fail(rc, "open");
			c->h = NULL;
			continue;
		}
		c->br = br;
		c->max_packet = libusb_get_max_packet_size(
		    list[i], (unsigned char)(br->mode == MODE_FT60X ? FT60X_EP_IN(1)
		                                                    : 0x81 + 2 * br->interface));
		err = SAMPAN_OK;
	}
	libusb_free_device_list(list, 1);
	return err;
}

/* ================================================================ hooks */

static void usb_close(void *ctx)
{
	struct usb_ctx *c = ctx;

	if (!c)
		return;
	for (int i = 0; i < RX_TRANSFERS; i++)
		if (c->rx[i])
			libusb_cancel_transfer(c->rx[i]);
	/* Let cancellations and writes finish before freeing their memory. */
	for (int round = 0; round < 100 && (c->rx_active || c->tx_pending || c->rq_active);
	     round++) {
		struct timeval tv = {0, 10000};
		libusb_handle_events_timeout_completed(c->usb, &tv, NULL);
	}
	for (int i = 0; i < RX_TRANSFERS; i++) {
		if (c->rx[i]) {
			free(c->rx[i]->buffer);
			libusb_free_transfer(c->rx[i]);
		}
	}
	if (c->claimed) {
		if (c->br->mode != MODE_FT60X)
			sio(c, SIO_SET_BITMODE, BITMODE_RESET << 8 | 0xFF,
			    (uint16_t)(c->br->interface + 1), "FTDI bit mode reset");
		libusb_release_interface(c->h, c->br->interface);
	}
	if (c->claimed_ctrl)
		libusb_release_interface(c->h, FT60X_IFACE_CTRL);
	if (c->h)
		libusb_close(c->h);
	if (c->usb)
		libusb_exit(c->usb);
	free(c->ring);
	free(c);
}

static int start_reads(struct usb_ctx *c)
{
	for (int i = 0; i < RX_TRANSFERS; i++) {
		uint8_t *buf = malloc(RX_TRANSFER_BYTES);
		int rc;

		c->rx[i] = libusb_alloc_transfer(0);
		if (!c->rx[i] || !buf) {
			free(buf);
			return drv_error(SAMPAN_ERROR_NO_MEM, "device 'usb': out of memory");
		}
		libusb_fill_bulk_transfer(c->rx[i], c->h, c->ep_in, buf, RX_TRANSFER_BYTES, rx_done,
		                          c, 0);
		if ((rc = rx_submit(c, c->rx[i])) < 0)
			return usb_fail(rc, "bulk read");
		c->rx_active++;
	}
	return SAMPAN_OK;
}

static int usb_open(const char *options, void **ctx, uint64_t *mem_base, uint64_t *mem_size)
{
	struct usb_ctx *c;
	char serial[64], name[SAMPAN_NAME_MAX];
	int vid, pid, rc, err;

	if ((err = parse_name(options, &vid, &pid, serial, sizeof(serial))) < 0)
		return err;
	if (vid >= 0 && !find_bridge((uint16_t)vid, (uint16_t)pid))
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device 'usb:%s': %04x:%04x is not a known bridge; known: %s",
		                 options, vid, pid, LOOKED_FOR);
	c = calloc(1, sizeof(*c));
	if (!c)
		return drv_error(SAMPAN_ERROR_NO_MEM, "device 'usb': out of memory");
	c->ring = malloc(RX_RING_BYTES);
	if (!c->ring) {
		err = drv_error(SAMPAN_ERROR_NO_MEM, "device 'usb': out of memory");
		goto err_close;
	}
	if ((rc = libusb_init(&c->usb)) < 0) {
		c->usb = NULL;
		err =
		    drv_error(SAMPAN_ERROR_NO_DEVICE,
		              "no sampan USB board found (looked for %s): libusb cannot reach USB "
		              "here: %s",
		              LOOKED_FOR, libusb_strerror(rc));
		goto err_close;
	}
	if ((err = open_board(c, vid, pid, serial)) < 0)
		goto err_close;
	if (c->max_packet <= 2) {
		err = drv_error(SAMPAN_ERROR_IO, "device 'usb': bad max packet size %d",
		                c->max_packet);
		goto err_close;
	}
	if (c->br->mode == MODE_FT60X) {
		c->ep_in = FT60X_EP_IN(1);
		c->ep_out = FT60X_EP_OUT(1);
	} else {
		c->ep_in = (unsigned char)(0x81 + 2 * c->br->interface);
		c->ep_out = (unsigned char)(0x02 + 2 * c->br->interface);
		c->status_bytes = 2;
	}
	libusb_set_auto_detach_kernel_driver(c->h, 1); /* ftdi_sio may hold it */
	if (c->br->mode == MODE_FT60X) {
		if ((rc = libusb_claim_interface(c->h, FT60X_IFACE_CTRL)) < 0) {
			err = usb_fail(rc, "claiming the control interface");
			goto err_close;
		}
		c->claimed_ctrl = 1;
	}
	if ((rc = libusb_claim_interface(c->h, c->br->interface)) < 0) {
		err = usb_fail(rc, "claiming the interface");
		goto err_close;
	}
	c->claimed = 1;
	if ((err = c->br->mode == MODE_FT60X ? ft60x_configure(c) : ftdi_configure(c)) < 0 ||
	    (err = start_reads(c)) < 0)
		goto err_close;
	snprintf(name, sizeof(name), "usb:%s", options);
	usb_proto_init(&c->proto, &usb_link, c, name, c->br->bytes_per_s, BASE_TIMEOUT_US,
	               QUIET_US);
	if ((err = usb_proto_hello(&c->proto)) < 0)
		goto err_close;
	*ctx = c;
	*mem_base = 0;
	*mem_size = c->proto.mem_bytes;
	return SAMPAN_OK;

err_close:
	usb_close(c);
	return err;
}

static int usb_mem_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
	struct usb_ctx *c = ctx;

	return usb_proto_mem_write(&c->proto, addr, src, n);
}

static int usb_mem_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
	struct usb_ctx *c = ctx;

	return usb_proto_mem_read(&c->proto, addr, dst, n);
}

static int usb_reg_read(void *ctx, uint32_t off, uint32_t *val)
{
	struct usb_ctx *c = ctx;

	return usb_proto_reg_read(&c->proto, off, val);
}

static int usb_reg_write(void *ctx, uint32_t off, uint32_t val)
{
	struct usb_ctx *c = ctx;

	return usb_proto_reg_write(&c->proto, off, val);
}

static int usb_wait_done(void *ctx, uint64_t max_cycles, int timeout_ms)
{
	struct usb_ctx *c = ctx;
	uint32_t mhz;
	int err;

	/* Device cycles to link time at the board's nominal clock. */
	if ((err = usb_proto_reg_read(&c->proto, ISA_REG_CLOCK_MHZ, &mhz)) < 0)
		return err;
	return usb_proto_wait_done(&c->proto, max_cycles / (mhz ? mhz : 1) + 1, timeout_ms);
}

const struct backend_ops usb_backend = {
    .name = "usb",
    .description = "a sampan board on USB (FTDI bridge)",
    .options_help = USB_OPTIONS,
    .enumerate = usb_enumerate,
    .open = usb_open,
    .close = usb_close,
    .mem_write = usb_mem_write,
    .mem_read = usb_mem_read,
    .reg_read = usb_reg_read,
    .reg_write = usb_reg_write,
    .wait_done = usb_wait_done,
};
