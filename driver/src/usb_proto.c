/*
 * usb_proto.c - framing and protocol of the stream shell over a byte link
 * (see usb_proto.h and rtl/stream/README.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "isa.h"
#include "usb_proto.h"

#define PROTO_VERSION 1
#define HELLO_BYTES 7
#define DEFAULT_ATTEMPTS 16
/* Silence periods a resync may wait through before the link counts as
 * babbling. */
#define MAX_QUIET_ROUNDS 64

/* ================================================================ frames */

uint16_t usb_crc16(uint16_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000u ? (unsigned)crc << 1 ^ 0x1021u
			                               : (unsigned)crc << 1);
	}
	return crc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t usb_frame_encode(uint8_t *out, uint8_t type, uint8_t seq, const uint8_t *payload,
                        uint16_t len)
{
	size_t end = USB_HDR_BYTES + len;

	out[0] = USB_SYNC;
	out[1] = type;
	out[2] = seq;
	put16(out + 3, len);
	put16(out + 5, usb_crc16(0xFFFF, out + 1, 4));
	if (len)
		memcpy(out + USB_HDR_BYTES, payload, len);
	put16(out + end, usb_crc16(0xFFFF, out + 1, end - 1));
	return end + USB_CRC_BYTES;
}

/* ================================================================ receiving */

static void rx_drop(struct usb_rx *s, size_t n)
{
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
}

/*
 * Finds the first complete, CRC-checked frame in @s. Returns 1 and its
 * total size in *@size, or 0 if more bytes are needed. Garbage before a
 * sync byte and frames that fail a check are dropped (counted).
 */
static int rx_parse(struct usb_proto *p, struct usb_rx *s, size_t *size)
{
	for (;;) {
		size_t i = 0, len, total;

		while (i < s->len && s->buf[i] != USB_SYNC)
			i++;
		if (i)
			rx_drop(s, i);
		if (s->len < USB_HDR_BYTES)
			return 0;
		len = (size_t)s->buf[3] | (size_t)s->buf[4] << 8;
		if (usb_crc16(0xFFFF, s->buf + 1, 4) != (uint16_t)(s->buf[5] | s->buf[6] << 8) ||
		    len > sizeof(p->rx) - USB_HDR_BYTES - USB_CRC_BYTES) {
			rx_drop(s, 1); /* not a header: hunt from the next byte */
			continue;
		}
		total = USB_HDR_BYTES + len + USB_CRC_BYTES;
		if (s->len < total)
			return 0;
		if (usb_crc16(0xFFFF, s->buf + 1, total - 3) !=
		    (uint16_t)(s->buf[total - 2] | s->buf[total - 1] << 8)) {
			p->stats.bad_frames++;
			rx_drop(s, 1);
			continue;
		}
		*size = total;
		return 1;
	}
}

/*
 * Waits until @deadline (link time) for the response to sequence number
 * @seq and leaves it in p->rx. Returns SAMPAN_OK, SAMPAN_ERROR_TIMEOUT, or
 * a link error. Responses to other sequence numbers are stale and dropped.
 */
static int recv_frame(struct usb_proto *p, uint8_t seq, uint64_t deadline)
{
	struct usb_rx *s = &p->in;
	size_t size, got;
	uint64_t now;
	int err;

	for (;;) {
		while (rx_parse(p, s, &size)) {
			int mine = s->buf[2] == seq;

			if (mine)
				memcpy(p->rx, s->buf, size);
			else
				p->stats.bad_frames++;
			rx_drop(s, size);
			if (mine)
				return SAMPAN_OK;
		}
		if (s->len == sizeof(s->buf))
			rx_drop(s, 1); /* cannot happen with valid lengths; stay safe */
		now = p->ops->now_us(p->link);
		if (now >= deadline)
			return SAMPAN_ERROR_TIMEOUT;
		err = p->ops->recv(p->link, s->buf + s->len, sizeof(s->buf) - s->len, &got,
		                   deadline - now);
		if (err < 0)
			return err;
		s->len += got;
		p->stats.bytes_in += got;
	}
}

/* After a failed exchange: drop what the host holds, then wait until the
 * device has been quiet for quiet_us (it drops a partial frame after its
 * own, shorter, frame timeout), discarding what it still sends. */
static int resync(struct usb_proto *p)
{
	uint8_t junk[512];
	size_t got;
	int err;

	p->in.len = 0;
	if ((err = p->ops->purge(p->link)) < 0)
		return err;
	for (int round = 0; round < MAX_QUIET_ROUNDS; round++) {
		if ((err = p->ops->recv(p->link, junk, sizeof(junk), &got, p->quiet_us)) < 0)
			return err;
		if (got == 0)
			return SAMPAN_OK;
		p->stats.bytes_in += got;
	}
	return drv_error(SAMPAN_ERROR_IO, "device '%s': the link never went quiet (resync failed)",
	                 p->name);
}

/* ================================================================ requests */

static const char *nak_text(uint8_t code)
{
	switch (code) {
	case USB_NAK_CRC:
		return "frame CRC error";
	case USB_NAK_FORMAT:
		return "malformed frame";
	case USB_NAK_RANGE:
		return "address or count out of range";
	case USB_NAK_NOT_SYNCED:
		return "device was reset";
	case USB_NAK_BUS:
		return "register bus error";
	default:
		return "unknown NAK code";
	}
}

/*
 * One request and its checked response: sends the frame, waits for the
 * response with the same sequence number, retries after timeouts, corrupt
 * answers and CRC NAKs. On success the response is in p->rx with type
 * @want and a payload of exactly @want_len bytes.
 */
static int transact(struct usb_proto *p, uint8_t type, const uint8_t *payload, uint16_t len,
                    uint8_t want, uint16_t want_len)
{
	size_t n;
	const char *last = "no response";
	uint8_t seq = ++p->seq;
	uint64_t wait_us;
	int err = SAMPAN_OK;

	p->in.len = 0;
	n = usb_frame_encode(p->tx, type, seq, payload, len);
	wait_us = p->base_timeout_us + (uint64_t)(n + USB_HDR_BYTES + USB_CRC_BYTES + want_len) *
	                                   2000000u / p->bytes_per_sec;
	for (unsigned attempt = 0; attempt < p->attempts; attempt++) {
		uint16_t rlen;
		uint8_t rtype;

		if (attempt) {
			p->stats.retries++;
			if ((err = resync(p)) < 0)
				return err;
		} else {
			p->stats.frames++;
		}
		if ((err = p->ops->send(p->link, p->tx, n)) < 0)
			return err;
		p->stats.bytes_out += n;
		err = recv_frame(p, seq, p->ops->now_us(p->link) + wait_us);
		if (err == SAMPAN_ERROR_TIMEOUT) {
			p->stats.timeouts++;
			last = "no response in time";
			continue;
		}
		if (err < 0)
			return err;
		rtype = p->rx[1];
		rlen = (uint16_t)(p->rx[3] | p->rx[4] << 8);
		if (rtype == USB_T_NAK && rlen == 1) {
			uint8_t code = p->rx[USB_HDR_BYTES];

			p->stats.naks++;
			if (code == USB_NAK_CRC) {
				last = "the device saw a CRC error";
				continue;
			}
			if (code == USB_NAK_NOT_SYNCED) {
				p->synced = 0;
				err = drv_error(SAMPAN_ERROR_IO,
				                "device '%s': the device was reset during the "
				                "transfer; its registers are lost (the next "
				                "operation resynchronises)",
				                p->name);
				return err;
			}
			err = drv_error(code == USB_NAK_BUS ? SAMPAN_ERROR_DEVICE
			                                    : SAMPAN_ERROR_INVALID,
			                "device '%s': request type 0x%02x refused: %s", p->name,
			                type, nak_text(code));
			return err;
		}
		if (rtype != want || rlen != want_len) {
			p->stats.bad_frames++;
			last = "unexpected response type or length";
			continue;
		}
		return SAMPAN_OK;
	}
	return drv_error(SAMPAN_ERROR_IO,
	                 "device '%s': request type 0x%02x failed after %u attempts (%s)", p->name,
	                 type, p->attempts, last);
}

void usb_proto_init(struct usb_proto *p, const struct usb_link_ops *ops, void *link,
                    const char *name, uint64_t bytes_per_sec, uint64_t base_timeout_us,
                    uint64_t quiet_us)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->link = link;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->attempts = DEFAULT_ATTEMPTS;
	p->bytes_per_sec = bytes_per_sec ? bytes_per_sec : 1;
	p->base_timeout_us = base_timeout_us;
	p->quiet_us = quiet_us;
	p->max_data = USB_MAX_DATA;
}

int usb_proto_hello(struct usb_proto *p)
{
	const uint8_t *d = p->rx + USB_HDR_BYTES;
	unsigned max_data;
	int err;

	p->synced = 0;
	err = transact(p, USB_T_HELLO, NULL, 0, USB_T_DATA, HELLO_BYTES);
	if (err < 0)
		return err;
	if (d[0] != PROTO_VERSION)
		return drv_error(SAMPAN_ERROR_NOT_SUPPORTED,
		                 "device '%s': stream protocol version %u, the driver speaks %u",
		                 p->name, d[0], PROTO_VERSION);
	max_data = (unsigned)d[1] | (unsigned)d[2] << 8;
	if (max_data == 0)
		return drv_error(SAMPAN_ERROR_NOT_SUPPORTED,
		                 "device '%s': reports a memory frame size of 0", p->name);
	p->max_data = max_data < USB_MAX_DATA ? max_data : USB_MAX_DATA;
	p->mem_bytes = get32(d + 3);
	p->synced = 1;
	return SAMPAN_OK;
}

/* Every operation first resynchronises after a device reset. */
static int ensure_synced(struct usb_proto *p)
{
	return p->synced ? SAMPAN_OK : usb_proto_hello(p);
}

int usb_proto_reg_write(struct usb_proto *p, uint32_t off, uint32_t val)
{
	uint8_t pl[8];
	int err;

	if ((err = ensure_synced(p)) < 0)
		return err;
	put32(pl, off);
	put32(pl + 4, val);
	return transact(p, USB_T_REG_WRITE, pl, sizeof(pl), USB_T_ACK, 0);
}

int usb_proto_reg_read(struct usb_proto *p, uint32_t off, uint32_t *val)
{
	uint8_t pl[4];
	int err;

	if ((err = ensure_synced(p)) < 0)
		return err;
	put32(pl, off);
	if ((err = transact(p, USB_T_REG_READ, pl, sizeof(pl), USB_T_DATA, 4)) < 0)
		return err;
	*val = get32(p->rx + USB_HDR_BYTES);
	return SAMPAN_OK;
}

/* Checks that [@addr, @addr + @n) is card memory the frames can address. */
static int check_range(struct usb_proto *p, uint64_t addr, size_t n, const char *what)
{
	if (addr > p->mem_bytes || n > p->mem_bytes - addr)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "device '%s': %s of %zu bytes at 0x%" PRIx64
		                 " is outside the %" PRIu64 "-byte card memory",
		                 p->name, what, n, addr, p->mem_bytes);
	return SAMPAN_OK;
}

int usb_proto_mem_write(struct usb_proto *p, uint64_t addr, const void *src, size_t n)
{
	const uint8_t *s = src;
	uint8_t pl[4 + USB_MAX_DATA];
	int err;

	if ((err = ensure_synced(p)) < 0 || (err = check_range(p, addr, n, "memory write")) < 0)
		return err;
	while (n) {
		size_t chunk = n < p->max_data ? n : p->max_data;

		put32(pl, (uint32_t)addr);
		memcpy(pl + 4, s, chunk);
		if ((err = transact(p, USB_T_MEM_WRITE, pl, (uint16_t)(4 + chunk), USB_T_ACK, 0)) <
		    0)
			return err;
		addr += chunk;
		s += chunk;
		n -= chunk;
	}
	return SAMPAN_OK;
}

int usb_proto_mem_read(struct usb_proto *p, uint64_t addr, void *dst, size_t n)
{
	uint8_t *d = dst, pl[6];
	int err;

	if ((err = ensure_synced(p)) < 0 || (err = check_range(p, addr, n, "memory read")) < 0)
		return err;
	while (n) {
		size_t chunk = n < p->max_data ? n : p->max_data;

		put32(pl, (uint32_t)addr);
		put16(pl + 4, (uint16_t)chunk);
		if ((err = transact(p, USB_T_MEM_READ, pl, sizeof(pl), USB_T_DATA,
		                    (uint16_t)chunk)) < 0)
			return err;
		memcpy(d, p->rx + USB_HDR_BYTES, chunk);
		addr += chunk;
		d += chunk;
		n -= chunk;
	}
	return SAMPAN_OK;
}

static double wall_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) * 1e-6;
}

int usb_proto_wait_done(struct usb_proto *p, uint64_t timeout_us, int timeout_ms)
{
	uint64_t start = p->ops->now_us(p->link);
	uint32_t ctrl, isr;
	struct timespec t0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if ((err = usb_proto_reg_read(p, ISA_REG_CTRL, &ctrl)) < 0)
			return err;
		if (ctrl & ISA_CTRL_DONE)
			break;
		if (p->ops->now_us(p->link) - start >= timeout_us)
			return drv_error(SAMPAN_ERROR_TIMEOUT,
			                 "device '%s': no ap_done within %" PRIu64
			                 " us of link time",
			                 p->name, timeout_us);
		if (timeout_ms > 0 && wall_ms(&t0) >= timeout_ms)
			return drv_error(SAMPAN_ERROR_TIMEOUT,
			                 "device '%s': no ap_done within %d ms", p->name,
			                 timeout_ms);
	}
	/* ap_done was cleared by the read; ISR.done toggles back with a 1. */
	if ((err = usb_proto_reg_read(p, ISA_REG_ISR, &isr)) < 0)
		return err;
	if (isr & ISA_IRQ_DONE)
		return usb_proto_reg_write(p, ISA_REG_ISR, ISA_IRQ_DONE);
	return SAMPAN_OK;
}
