/* SPDX-License-Identifier: MIT */
/*
 * bench-out: how every `vmm bench` prints its rows - one JSON document in
 * DESIGN.md's "Benchmarks" shape, or a table - and the clock they time with.
 * speedup > 1 always means better than the baseline.
 */
#ifndef VMM_BENCH_OUT_H
#define VMM_BENCH_OUT_H

#include <stdbool.h>
#include <stdio.h>

struct bench_out {
	FILE *f;
	bool json;    /* DESIGN.md "Benchmarks" shape; else a table */
	unsigned rows;
};

void bench_out__begin(struct bench_out *o, const char *bench);
/* A time (or memory) row: lower is better; speedup = baseline / value. */
void bench_out__time(struct bench_out *o, const char *c, const char *metric, double value,
		     const char *baseline, double baseline_value);
/* A rate row: higher is better; speedup = value / baseline. */
void bench_out__rate(struct bench_out *o, const char *c, const char *metric, double value,
		     const char *baseline, double baseline_value);
void bench_out__end(struct bench_out *o);
/* A line for the reader (stderr, so the JSON on stdout stays clean). */
void bench_out__note(struct bench_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The best peer figure that applies (DESIGN.md "Where peers set the bar"),
 * for the reader beside the rows: "peer: WHAT: FIGURES" on stderr.
 */
void bench_out__peer(struct bench_out *o, const char *what, const char *figures);

double bench_now_s(void);

#endif
