/* SPDX-License-Identifier: MIT */
/*
 * doctor: what this host offers the VMM, one check per line, each with a
 * verdict. A required check that fails makes `vmm doctor` exit non-zero.
 */
#ifndef VMM_DOCTOR_H
#define VMM_DOCTOR_H

#include <stdbool.h>
#include <stdio.h>

enum doctor_verdict { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_check {
	const char *name;
	bool required;
	enum doctor_verdict verdict;
	char detail[256];
};

#define DOCTOR_MAX_CHECKS 32

/* Run every check into @checks (at most DOCTOR_MAX_CHECKS); returns the count. */
unsigned doctor__run_checks(struct doctor_check *checks);
/* Print checks and a verdict line; returns the number of required failures. */
unsigned doctor__report(FILE *out, const struct doctor_check *checks, unsigned n);

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
