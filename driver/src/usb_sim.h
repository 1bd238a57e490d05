/*
 * usb_sim.h - test hooks of the `sim-usb` backend: what its simulated link
 * injected and what the protocol recovered from. Internal to libsampan
 * (the tests link the static library).
 */
#ifndef SAMPAN_USB_SIM_H
#define SAMPAN_USB_SIM_H

#include <stdint.h>

#include "sampan.h"
#include "usb_proto.h"

/* The simulated link so far: faults injected, and simulated time. */
struct usb_sim_link {
	uint64_t dropped, duplicated, corrupted, stalls, resets;
	uint64_t cycles;           /* core clock cycles simulated since open */
	unsigned clock_mhz;        /* of that clock */
	uint64_t link_bytes_per_s; /* raw link rate, each direction */
};

/* Copies the counters of a device opened as "sim-usb" (either pointer may
 * be NULL). Fails with SAMPAN_ERROR_INVALID for any other device. */
int usb_sim_counters(struct sampan_device *dev, struct usb_proto_stats *proto,
                     struct usb_sim_link *link);

#endif /* SAMPAN_USB_SIM_H */
