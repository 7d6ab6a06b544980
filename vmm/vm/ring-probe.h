/* SPDX-License-Identifier: MIT */
/*
 * ring-probe: how fast guest code runs on this host at ring 3 and at ring 0
 * (`vmm doctor`'s guest-rings check), timed in a throwaway KVM VM.
 */
#ifndef VMM_RING_PROBE_H
#define VMM_RING_PROBE_H

#include <stdbool.h>

struct ring_probe {
	double ring3_ns; /* one loop iteration at CPL 3 */
	double ring0_ns; /* the same at CPL 0 */
	double ratio;	 /* ring0_ns / ring3_ns */
	bool ring0_native;
	bool ring3_port_io; /* `out` at CPL 3 with IOPL 3 exits to the VMM */
};
/* Time guest code at ring 3 and ring 0 in a throwaway VM. */
int ring_probe__run(struct ring_probe *ret);

#endif
