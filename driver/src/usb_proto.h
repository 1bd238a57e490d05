/*
 * usb_proto.h - the framing and protocol of the stream shell
 * (rtl/stream/README.md), shared by the `usb` (libusb) and `sim-usb`
 * (Verilator) backends: frames with header and frame CRCs, sequence
 * numbers, timeouts, retries and resynchronisation, on top of a byte link.
 *
 * The protocol is stop-and-wait: one request frame, then its response.
 * Every response is checked (sync, header CRC, frame CRC, sequence number,
 * type and length) before any of its data is handed back; a lost, corrupt
 * or unexpected response makes the request go again (the device answers a
 * repeated sequence number from its cache without executing twice), up to
 * a retry limit, then the call fails with SAMPAN_ERROR_IO and a message.
 * A device reset is detected (the device refuses frames until a new HELLO)
 * and reported as SAMPAN_ERROR_IO, never retried silently: the registers a
 * caller programmed are gone.
 */
#ifndef SAMPAN_USB_PROTO_H
#define SAMPAN_USB_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Frame constants (rtl/stream/README.md). */
#define USB_SYNC 0xA5u
#define USB_HDR_BYTES 7 /* sync, type, seq, len (2), header CRC (2) */
#define USB_CRC_BYTES 2
#define USB_MAX_DATA 4096 /* the host's cap on memory-frame data */

enum usb_frame_type {
	USB_T_HELLO = 0x00,
	USB_T_REG_WRITE = 0x01,
	USB_T_REG_READ = 0x02,
	USB_T_MEM_WRITE = 0x03,
	USB_T_MEM_READ = 0x04,
	USB_T_ACK = 0x80,
	USB_T_DATA = 0x81,
	USB_T_NAK = 0x82,
};

enum usb_nak_code {
	USB_NAK_CRC = 1,        /* frame CRC failed (header was good) */
	USB_NAK_FORMAT = 2,     /* unknown type or bad length for the type */
	USB_NAK_RANGE = 3,      /* address or count outside the device */
	USB_NAK_NOT_SYNCED = 4, /* no HELLO since the device was reset */
	USB_NAK_BUS = 5,        /* the register bus answered an error */
};

/*
 * A byte link to one board. Hooks return SAMPAN_OK or a negative
 * sampan_error with the thread's last error set.
 *
 * send(ctx, src, n)        queues all @n bytes toward the device.
 * recv(ctx, dst, max, got, timeout_us)
 *                          waits up to @timeout_us of link time for bytes
 *                          from the device and moves up to @max of them to
 *                          @dst; *@got = 0 on timeout (not an error).
 * purge(ctx)               drops bytes buffered on the host side, both ways.
 * now_us(ctx)              link time in microseconds (simulated time for a
 *                          simulated link), for deadlines.
 */
struct usb_link_ops {
	int (*send)(void *ctx, const uint8_t *src, size_t n);
	int (*recv)(void *ctx, uint8_t *dst, size_t max, size_t *got, uint64_t timeout_us);
	int (*purge)(void *ctx);
	uint64_t (*now_us)(void *ctx);
};

/* Counters of what the protocol recovered from. */
struct usb_proto_stats {
	uint64_t frames;              /* requests sent (first attempts) */
	uint64_t retries;             /* requests sent again */
	uint64_t timeouts;            /* responses that did not arrive in time */
	uint64_t bad_frames;          /* responses dropped: CRC, sequence, type, length */
	uint64_t naks;                /* NAK responses */
	uint64_t bytes_out, bytes_in; /* link bytes, framing included */
};

/* Bytes received and not parsed yet (room for two largest frames). */
struct usb_rx {
	uint8_t buf[2 * (USB_HDR_BYTES + USB_MAX_DATA + 16 + USB_CRC_BYTES)];
	size_t len;
};

struct usb_proto {
	const struct usb_link_ops *ops;
	void *link;
	char name[64];            /* device name for messages */
	uint8_t seq;              /* sequence number of the last request */
	int synced;               /* HELLO done since the device was last reset */
	unsigned max_data;        /* memory-frame data limit (device and host) */
	uint64_t mem_bytes;       /* card memory the device reports */
	unsigned attempts;        /* tries per request (first + retries) */
	uint64_t base_timeout_us; /* response deadline: this plus the bytes' time */
	uint64_t bytes_per_sec;   /* link rate, for deadlines */
	uint64_t quiet_us;        /* silence that resynchronises after an error */
	struct usb_proto_stats stats;
	uint8_t rx[USB_HDR_BYTES + USB_MAX_DATA + 16 + USB_CRC_BYTES]; /* response */
	uint8_t tx[USB_HDR_BYTES + USB_MAX_DATA + 4 + USB_CRC_BYTES];  /* request */
	struct usb_rx in;
};

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no final XOR)
 * of @n bytes, continuing from @crc. */
uint16_t usb_crc16(uint16_t crc, const uint8_t *p, size_t n);

/* Encodes one frame into @out (room for USB_HDR_BYTES + @len +
 * USB_CRC_BYTES) and returns its size. */
size_t usb_frame_encode(uint8_t *out, uint8_t type, uint8_t seq, const uint8_t *payload,
                        uint16_t len);

/* Sets up @p on a link; @name is used in messages. No I/O. */
void usb_proto_init(struct usb_proto *p, const struct usb_link_ops *ops, void *link,
                    const char *name, uint64_t bytes_per_sec, uint64_t base_timeout_us,
                    uint64_t quiet_us);

/* Resynchronises with the device (HELLO): learns its memory size and
 * frame limit. Needed after open and after a device reset. */
int usb_proto_hello(struct usb_proto *p);

int usb_proto_reg_write(struct usb_proto *p, uint32_t off, uint32_t val);
int usb_proto_reg_read(struct usb_proto *p, uint32_t off, uint32_t *val);
/* Card memory, in frames of up to max_data bytes. */
int usb_proto_mem_write(struct usb_proto *p, uint64_t addr, const void *src, size_t n);
int usb_proto_mem_read(struct usb_proto *p, uint64_t addr, void *dst, size_t n);

/* Polls CTRL until ap_done (then acknowledges ISR.done), for at most
 * @timeout_us of link time and, when @timeout_ms > 0, of wall-clock time. */
int usb_proto_wait_done(struct usb_proto *p, uint64_t timeout_us, int timeout_ms);

#endif /* SAMPAN_USB_PROTO_H */
