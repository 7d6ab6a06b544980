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
/*
 * The same, shorter (a few ms on a PVM host, less elsewhere) and without
 * the port I/O check: enough to tell ring 0 native from emulated (a Linux
 * guest's refusal on PVM hosts).
 */
int ring_probe__quick(struct ring_probe *ret);

/* What a host whose ring 0 is emulated cannot do. */
#define RING_PROBE_NO_LINUX "Linux guests are not supported on this host: ring 0 is emulated " \
	"(a paravirtual KVM, PVM), so a kernel cannot boot in useful time"


#endif
