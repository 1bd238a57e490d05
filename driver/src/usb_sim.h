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

/* Faults the simulated link injected so far. */
struct usb_sim_faults {
	uint64_t dropped, duplicated, corrupted, stalls, resets;
};

/* Copies the counters of a device opened as "sim-usb" (either pointer may
 * be NULL). Fails with SAMPAN_ERROR_INVALID for any other device. */
int usb_sim_counters(struct sampan_device *dev, struct usb_proto_stats *proto,
                     struct usb_sim_faults *faults);

#endif /* SAMPAN_USB_SIM_H */
