// SPDX-License-Identifier: MIT
/*
 * bench-out.c: benchmark rows, as JSON or a table (bench-out.h).
 *
 * vmm/bench owns the benchmarks behind `vmm bench` (bench-<name>.c), the
 * guests they boot (bench-guest.c) and this output. It may call vmm/vm,
 * vmm/linux, vmm/dev, vmm/snapshot, vmm/fuzz, mm and the built-in guests; only
 * vmm/cli calls it. Public: bench-<name>.h, bench-out.h, bench-median.h.
 */
#include <stdarg.h>
#include <sys/utsname.h>

#include "bench-out.h"
#include "clock.h"

double bench_now_s(void)
{
	return clock_now_s();
}

void bench_out__begin(struct bench_out *o, const char *bench)
{
	struct utsname u;

	uname(&u);
	o->rows = 0;
	if (o->json)
		fprintf(o->f, "{\"bench\": \"%s\", \"host\": \"%s %s\", \"rows\": [", bench,
			u.nodename, u.release);
	fflush(o->f);
}

static void row(struct bench_out *o, const char *c, const char *metric, double value,
		const char *baseline, double baseline_value, double speedup)
{
	if (o->json)
		fprintf(o->f, "%s\n    {\"case\": \"%s\", \"metric\": \"%s\", \"value\": %.4f, "
			"\"baseline\": \"%s\", \"baseline_value\": %.4f, \"speedup\": %.3f}",
			o->rows++ ? "," : "", c, metric, value, baseline, baseline_value, speedup);
	else
		fprintf(o->f, "%-12s %-24s %12.4f   %-28s %12.4f   speedup %.3f\n", c, metric,
			value, baseline, baseline_value, speedup);
	fflush(o->f);
}

void bench_out__time(struct bench_out *o, const char *c, const char *metric, double value,
		     const char *baseline, double baseline_value)
{
	row(o, c, metric, value, baseline, baseline_value, value > 0 ? baseline_value / value : 0);
}

void bench_out__rate(struct bench_out *o, const char *c, const char *metric, double value,
		     const char *baseline, double baseline_value)
{
	row(o, c, metric, value, baseline, baseline_value,
	    baseline_value > 0 ? value / baseline_value : 0);
}

void bench_out__end(struct bench_out *o)
{
	if (o->json)
		fprintf(o->f, "\n]}\n");
	fflush(o->f);
}

void bench_out__peer(struct bench_out *o, const char *what, const char *figures)
{
	bench_out__note(o, "peer: %s: %s (DESIGN.md, \"Where peers set the bar\")", what, figures);
}

void bench_out__note(struct bench_out *o, const char *fmt, ...)
{
	va_list ap;

	(void)o;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
