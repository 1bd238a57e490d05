/*
 * fake_ft60x_usb.c - libusb-1.0 test double: one FT600/FT601 in front of
 * the simulated stream shell (see fake_ft60x_usb.h).
 *
 * The chip: interface 0 with the session endpoint OUT 0x01, interface 1
 * with bulk OUT 0x02 and IN 0x82 (channel 1). A vendor IN request 0xCF
 * (wValue 1) returns the 152-byte configuration. Each 20-byte read request
 * on 0x01 (pipe 0x82, command 1) lets one IN transfer on 0x82 be served:
 * the transfer completes with the bytes the FPGA has sent, up to its
 * length and the request's (a short packet when the FPGA has stopped).
 * OUT bytes on 0x02 go to the FPGA. Time advances (the simulation is
 * stepped) inside libusb_handle_events_timeout_completed(), where every
 * completion callback runs, as in libusb.
 */
#include "fake_ft60x_usb.h"

#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usb/sampan_simusb.h"

struct libusb_context {
	int unused;
};
struct libusb_device {
	int unused;
};
struct libusb_device_handle {
	int unused;
};

#define MAX_PENDING 256
#define MAX_REQUESTS 64
#define CFG_BYTES 152
#define STEP_CYCLES 4000 /* simulated per event-handling call */
/* Event-handling calls an IN transfer may starve (no read request while
 * the FPGA has data) before the double fails it, so that a driver which
 * forgets its requests fails at once instead of after all its retries. A
 * real chip would just never answer. */
#define STARVED_LIMIT 2000

struct pending {
	struct libusb_transfer *t;
	int done;   /* completed (status set), callback still to run */
	int cancel; /* cancellation asked */
};

static struct {
	int attached;
	uint16_t pid;
	uint8_t config[CFG_BYTES];
	struct libusb_device dev;
	struct libusb_device_handle handle;
	int open;
	struct ssimusb *sim;
	uint32_t req_len[MAX_REQUESTS]; /* read requests not yet used, a queue */
	int req_head, req_count;
	uint32_t next_index;
	int index_known;
	struct pending pend[MAX_PENDING];
	int npend;
	struct fake_ft60x_stats st;
	uint64_t time_base_us; /* device time of the boards already closed */
	int starved;           /* consecutive calls with an IN transfer starved */
} F;

void fake_ft60x_attach(uint16_t pid, uint8_t mode, uint8_t channels)
{
	memset(&F, 0, sizeof(F));
	F.attached = 1;
	F.pid = pid;
	memset(F.config, 0, sizeof(F.config));
	F.config[0] = 0x03;
	F.config[1] = 0x04;
	F.config[2] = (uint8_t)pid;
	F.config[3] = (uint8_t)(pid >> 8);
	F.config[137] = 0; /* 100 MHz */
	F.config[138] = mode;
	F.config[139] = channels;
}

/* The backend's link clock (a weak function in backend_usb.c): the
 * simulated board's time at its nominal 100 MHz, carried across boards. */
uint64_t drv_usb_now_us(void);

uint64_t drv_usb_now_us(void)
{
	return F.time_base_us + (F.sim ? ssimusb_cycles(F.sim) / 100u : 0);
}

const struct fake_ft60x_stats *fake_ft60x_stats(void)
{
	F.st.pending = F.npend;
	return &F.st;
}

/* ================================================================ library */

int LIBUSB_CALL libusb_init(libusb_context **ctx)
{
	*ctx = calloc(1, sizeof(**ctx));
	return *ctx ? 0 : LIBUSB_ERROR_NO_MEM;
}

void LIBUSB_CALL libusb_exit(libusb_context *ctx)
{
	free(ctx);
}

const char *LIBUSB_CALL libusb_error_name(int errcode)
{
	switch (errcode) {
	case LIBUSB_ERROR_NO_DEVICE:
		return "LIBUSB_ERROR_NO_DEVICE";
	case LIBUSB_ERROR_PIPE:
		return "LIBUSB_ERROR_PIPE";
	case LIBUSB_ERROR_NOT_FOUND:
		return "LIBUSB_ERROR_NOT_FOUND";
	default:
		return "LIBUSB_ERROR_OTHER";
	}
}

const char *LIBUSB_CALL libusb_strerror(int errcode)
{
	return libusb_error_name(errcode);
}

ssize_t LIBUSB_CALL libusb_get_device_list(libusb_context *ctx, libusb_device ***list)
{
	(void)ctx;
	*list = calloc(2, sizeof(**list));
	if (!*list)
		return LIBUSB_ERROR_NO_MEM;
	if (!F.attached)
		return 0;
	(*list)[0] = &F.dev;
	return 1;
}

void LIBUSB_CALL libusb_free_device_list(libusb_device **list, int unref_devices)
{
	(void)unref_devices;
	free(list);
}

int LIBUSB_CALL libusb_get_device_descriptor(libusb_device *dev,
                                             struct libusb_device_descriptor *desc)
{
	(void)dev;
	memset(desc, 0, sizeof(*desc));
	desc->bLength = LIBUSB_DT_DEVICE_SIZE;
	desc->bDescriptorType = LIBUSB_DT_DEVICE;
	desc->bcdUSB = 0x0310;
	desc->bMaxPacketSize0 = 9;
	desc->idVendor = 0x0403;
	desc->idProduct = F.pid;
	desc->iSerialNumber = 3;
	desc->bNumConfigurations = 1;
	return 0;
}

uint8_t LIBUSB_CALL libusb_get_bus_number(libusb_device *dev)
{
	(void)dev;
	return 2;
}

uint8_t LIBUSB_CALL libusb_get_device_address(libusb_device *dev)
{
	(void)dev;
	return 7;
}

int LIBUSB_CALL libusb_get_max_packet_size(libusb_device *dev, unsigned char endpoint)
{
	(void)dev;
	return endpoint == 0x82 || endpoint == 0x02 ? 1024 : LIBUSB_ERROR_NOT_FOUND;
}

int LIBUSB_CALL libusb_open(libusb_device *dev, libusb_device_handle **handle)
{
	struct ssimusb_config cfg = {.link_bytes_per_kcycle = 1000};

	if (dev != &F.dev || F.open)
		return LIBUSB_ERROR_ACCESS;
	F.sim = ssimusb_create(&cfg);
	if (!F.sim) {
		fprintf(stderr, "fake_ft60x: %s\n", ssimusb_error(NULL));
		return LIBUSB_ERROR_IO;
	}
	F.open = 1;
	F.st.opens++;
	*handle = &F.handle;
	return 0;
}

void LIBUSB_CALL libusb_close(libusb_device_handle *h)
{
	(void)h;
	F.st.claimed_at_close = F.st.claimed;
	F.st.claimed = 0;
	F.st.closes++;
	F.time_base_us += ssimusb_cycles(F.sim) / 100u;
	ssimusb_destroy(F.sim);
	F.sim = NULL;
	F.open = 0;
}

int LIBUSB_CALL libusb_get_string_descriptor_ascii(libusb_device_handle *h, uint8_t index,
                                                   unsigned char *data, int length)
{
	(void)h;
	if (index != 3 || length < 8)
		return LIBUSB_ERROR_INVALID_PARAM;
	memcpy(data, "FAKE601", 8);
	return 7;
}

int LIBUSB_CALL libusb_set_auto_detach_kernel_driver(libusb_device_handle *h, int enable)
{
	(void)h;
	(void)enable;
	return 0;
}

int LIBUSB_CALL libusb_claim_interface(libusb_device_handle *h, int iface)
{
	(void)h;
	if (iface < 0 || iface > 1)
		return LIBUSB_ERROR_NOT_FOUND;
	if (F.st.claimed & 1 << iface)
		return LIBUSB_ERROR_BUSY;
	F.st.claimed |= 1 << iface;
	return 0;
}

int LIBUSB_CALL libusb_release_interface(libusb_device_handle *h, int iface)
{
	(void)h;
	if (iface < 0 || iface > 1 || !(F.st.claimed & 1 << iface))
		return LIBUSB_ERROR_NOT_FOUND;
	F.st.claimed &= ~(1 << iface);
	return 0;
}

int LIBUSB_CALL libusb_control_transfer(libusb_device_handle *h, uint8_t request_type,
                                        uint8_t request, uint16_t value, uint16_t index,
                                        unsigned char *data, uint16_t length, unsigned int timeout)
{
	(void)h;
	(void)timeout;
	if (request_type == (LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_VENDOR) && request == 0xCF &&
	    value == 1 && index == 0) {
		int n = length < CFG_BYTES ? length : CFG_BYTES;

		memcpy(data, F.config, (size_t)n);
		F.st.config_reads++;
		return n;
	}
	F.st.other_control++;
	return LIBUSB_ERROR_PIPE; /* the FT60x stalls FTDI vendor requests */
}

/* ================================================================ transfers */

struct libusb_transfer *LIBUSB_CALL libusb_alloc_transfer(int iso_packets)
{
	(void)iso_packets;
	return calloc(1, sizeof(struct libusb_transfer));
}

void LIBUSB_CALL libusb_free_transfer(struct libusb_transfer *t)
{
	if (!t)
		return;
	if (t->flags & LIBUSB_TRANSFER_FREE_BUFFER)
		free(t->buffer);
	free(t);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A read request on the session endpoint. */
static void session_write(const unsigned char *b, int n)
{
	uint32_t idx, len;

	if (n != 20 || b[4] != 0x82 || b[5] != 1 || b[6] || b[7] || le32(b + 12) || le32(b + 16)) {
		F.st.bad_requests++;
		return;
	}
	idx = le32(b);
	len = le32(b + 8);
	if ((F.index_known && idx != F.next_index) || len == 0 || F.req_count == MAX_REQUESTS) {
		F.st.bad_requests++;
		return;
	}
	F.index_known = 1;
	F.next_index = idx + 1;
	F.req_len[(F.req_head + F.req_count) % MAX_REQUESTS] = len;
	F.req_count++;
	F.st.requests++;
}

int LIBUSB_CALL libusb_submit_transfer(struct libusb_transfer *t)
{
	struct pending *p;
	int iface = t->endpoint == 0x01 ? 0 : 1;

	if (!F.open || t->dev_handle != &F.handle)
		return LIBUSB_ERROR_NO_DEVICE;
	if (t->type != LIBUSB_TRANSFER_TYPE_BULK ||
	    (t->endpoint != 0x01 && t->endpoint != 0x02 && t->endpoint != 0x82) ||
	    !(F.st.claimed & 1 << iface)) {
		F.st.bad_endpoint++;
		return LIBUSB_ERROR_NOT_FOUND;
	}
	if (F.npend == MAX_PENDING)
		return LIBUSB_ERROR_NO_MEM;
	p = &F.pend[F.npend++];
	memset(p, 0, sizeof(*p));
	p->t = t;
	t->actual_length = 0;
	/* OUT transfers reach the chip at once and complete at the next
	 * event handling. */
	if (t->endpoint == 0x01) {
		session_write(t->buffer, t->length);
		t->actual_length = t->length;
		t->status = LIBUSB_TRANSFER_COMPLETED;
		p->done = 1;
	} else if (t->endpoint == 0x02) {
		if (ssimusb_push(F.sim, t->buffer, (size_t)t->length) < 0) {
			t->status = LIBUSB_TRANSFER_ERROR;
		} else {
			t->actual_length = t->length;
			t->status = LIBUSB_TRANSFER_COMPLETED;
			F.st.out_bytes += (unsigned long)t->length;
		}
		p->done = 1;
	}
	return 0;
}

int LIBUSB_CALL libusb_cancel_transfer(struct libusb_transfer *t)
{
	for (int i = 0; i < F.npend; i++) {
		if (F.pend[i].t == t && !F.pend[i].done) {
			F.pend[i].cancel = 1;
			return 0;
		}
	}
	return LIBUSB_ERROR_NOT_FOUND;
}

/* Serves the oldest IN transfer if a read request covers it and the FPGA
 * has sent something. */
static void serve_in(void)
{
	for (int i = 0; i < F.npend; i++) {
		struct pending *p = &F.pend[i];
		uint32_t room;
		size_t got;

		if (p->done || p->cancel || p->t->endpoint != 0x82)
			continue;
		if (!F.req_count)
			return; /* no request: the chip does not answer IN tokens */
		room = F.req_len[F.req_head];
		if ((uint32_t)p->t->length < room)
			room = (uint32_t)p->t->length;
		got = ssimusb_pull(F.sim, p->t->buffer, room);
		if (!got)
			return;
		p->t->actual_length = (int)got;
		p->t->status = LIBUSB_TRANSFER_COMPLETED;
		p->done = 1;
		F.req_head = (F.req_head + 1) % MAX_REQUESTS;
		F.req_count--;
		F.st.in_transfers++;
		F.st.in_bytes += got;
		return;
	}
}

int LIBUSB_CALL libusb_handle_events_timeout_completed(libusb_context *ctx, struct timeval *tv,
                                                       int *completed)
{
	struct libusb_transfer *ready[MAX_PENDING];
	int n = 0;

	(void)ctx;
	(void)tv;
	(void)completed;
	if (F.sim) {
		int waiting = 0;

		for (int i = 0; i < F.npend; i++)
			waiting |= F.pend[i].t->endpoint == 0x82 && !F.pend[i].done;
		int64_t ran = ssimusb_step(F.sim, STEP_CYCLES, waiting ? 1 : 0);

		if (ran < 0)
			return LIBUSB_ERROR_IO;
		/* The FPGA has data (the step stopped early), an IN transfer
		 * waits, and no read request lets the chip serve it. */
		if (waiting && !F.req_count && ran < STEP_CYCLES)
			F.starved++;
		else
			F.starved = 0;
		if (F.starved > STARVED_LIMIT) {
			F.st.starved++;
			for (int i = 0; i < F.npend; i++) {
				if (F.pend[i].t->endpoint == 0x82 && !F.pend[i].done) {
					F.pend[i].t->status = LIBUSB_TRANSFER_ERROR;
					F.pend[i].done = 1;
				}
			}
		}
		serve_in();
	}
	/* Take the finished transfers off the list before any callback runs
	 * (callbacks submit new ones). */
	for (int i = 0; i < F.npend;) {
		struct pending *p = &F.pend[i];

		if (p->cancel && !p->done) {
			p->t->status = LIBUSB_TRANSFER_CANCELLED;
			p->done = 1;
		}
		if (p->done) {
			ready[n++] = p->t;
			memmove(p, p + 1, (size_t)(F.npend - i - 1) * sizeof(*p));
			F.npend--;
			continue;
		}
		i++;
	}
	for (int i = 0; i < n; i++) {
		struct libusb_transfer *t = ready[i];
		int free_it = t->flags & LIBUSB_TRANSFER_FREE_TRANSFER;

		t->callback(t);
		if (free_it)
			libusb_free_transfer(t);
	}
	return 0;
}
