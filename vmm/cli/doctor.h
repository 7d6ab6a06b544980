/* SPDX-License-Identifier: MIT */
/*
 * doctor: what this host offers the VMM, one check per line, each with a
 * verdict. A required check that fails makes `vmm doctor` exit non-zero.
 */
#ifndef VMM_DOCTOR_H
#define VMM_DOCTOR_H

#include <stdbool.h>
#include <stdio.h>

#include "ring-probe.h"

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

#endif
