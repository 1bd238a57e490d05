/*
 * fake_ft60x_usb.h - a test double of libusb-1.0 (tests/fake_ft60x_usb.c)
 * that presents one FTDI FT600/FT601 whose FIFO side is the simulated
 * stream shell (libsampan_simusb.so). A test binary linked with it drives
 * the `usb` backend's FT60x path in process: device list, configuration
 * read, claims, read requests, asynchronous bulk transfers and
 * cancellation, against the chip's USB behaviour as the driver's
 * documentation describes it (an IN transfer is served only after a read
 * request for its pipe; a short packet ends it).
 *
 * Time: it also defines drv_usb_now_us(), the backend's link clock (weak
 * in backend_usb.c), as the simulated board's time at 100 MHz, so that the
 * backend's deadlines count device time whatever the simulator's speed.
 *
 * It implements exactly the libusb functions backend_usb.c calls; a call
 * the driver adds later resolves to the real libusb and would fail there.
 */
#ifndef SAMPAN_FAKE_FT60X_USB_H
#define SAMPAN_FAKE_FT60X_USB_H

#include <stdint.h>

/* What the fake saw (reset by fake_ft60x_attach). */
struct fake_ft60x_stats {
	unsigned long requests;      /* well-formed read requests */
	unsigned long bad_requests;  /* wrong size, pipe, command, length or index */
	unsigned long other_control; /* control transfers other than the config read */
	unsigned long config_reads;  /* configuration reads */
	unsigned long bad_endpoint;  /* transfers to an endpoint of an unclaimed interface */
	unsigned long in_transfers;  /* IN transfers completed with data */
	unsigned long starved;       /* IN transfers failed: data waiting, no request */
	unsigned long in_bytes, out_bytes;
	unsigned long opens, closes;
	int claimed;          /* interfaces claimed now (bit per interface) */
	int claimed_at_close; /* interfaces still claimed when the handle closed */
	int pending;          /* transfers submitted and not completed */
};

/* Plugs in a chip with product ID @pid (0x601f FT601, 0x601e FT600) whose
 * configuration says FIFO mode @mode and channel setting @channels.
 * Without it no device is attached. */
void fake_ft60x_attach(uint16_t pid, uint8_t mode, uint8_t channels);

const struct fake_ft60x_stats *fake_ft60x_stats(void);

#endif
