// SPDX-License-Identifier: MIT
/*
 * doctor.c: the host capability checks behind `vmm doctor`.
 *
 * Each check fills one struct doctor_check; none prints. Required checks
 * are what the VMM cannot work without (KVM, its core capabilities,
 * userfaultfd write-protect on shmem, io_uring); the rest are reported so a
 * user knows what a feature will cost or whether it is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "doctor.h"
#include "mm.h"

static void set(struct doctor_check *c, enum doctor_verdict v, const char *fmt, ...)
{
	va_list ap;

	c->verdict = v;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static struct doctor_check *add(struct doctor_check *checks, unsigned *n, const char *name,
				bool required)
{
	struct doctor_check *c = &checks[(*n)++];

	*c = (struct doctor_check){.name = name, .required = required};
	return c;
}

static int check_kvm(struct doctor_check *checks, unsigned *n)
{
	struct doctor_check *c = add(checks, n, "kvm", true);
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		set(c, DOCTOR_FAIL, "/dev/kvm: %s", strerror(errno));
		return -1;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		set(c, DOCTOR_FAIL, "/dev/kvm API version %d, need %d", version, KVM_API_VERSION);
		close(fd);
		return -1;
	}
	set(c, DOCTOR_OK, "/dev/kvm usable, API version %d", version);
	return fd;
}

static const struct {
	const char *name;
	int cap;
	bool required;
} kvm_caps[] = {
	{"KVM_CAP_USER_MEMORY", KVM_CAP_USER_MEMORY, true},
	{"KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP, true},
	{"KVM_CAP_PIT2", KVM_CAP_PIT2, true},
	{"KVM_CAP_EXT_CPUID", KVM_CAP_EXT_CPUID, true},
	{"KVM_CAP_XSAVE", KVM_CAP_XSAVE, true},
	{"KVM_CAP_XCRS", KVM_CAP_XCRS, true},
	{"KVM_CAP_VCPU_EVENTS", KVM_CAP_VCPU_EVENTS, true},
	{"KVM_CAP_MP_STATE", KVM_CAP_MP_STATE, true},
	{"KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT, true},
	{"KVM_CAP_ADJUST_CLOCK", KVM_CAP_ADJUST_CLOCK, false},
	{"KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, false},
};

static void check_kvm_caps(int kvm, struct doctor_check *checks, unsigned *n)
{
	struct doctor_check *c = add(checks, n, "kvm-caps", true);
	char missing[160] = "", optional[160] = "";
	int slots;

	for (size_t i = 0; i < sizeof(kvm_caps) / sizeof(kvm_caps[0]); i++) {
		if (ioctl(kvm, KVM_CHECK_EXTENSION, kvm_caps[i].cap) > 0)
			continue;
		char *list = kvm_caps[i].required ? missing : optional;

		snprintf(list + strlen(list), 160 - strlen(list), " %s", kvm_caps[i].name + 8);
	}
	slots = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (missing[0])
		set(c, DOCTOR_FAIL, "missing required:%s", missing);
	else if (optional[0])
		set(c, DOCTOR_WARN, "all required present, %d memory slots; missing optional:%s",
		    slots, optional);
	else
		set(c, DOCTOR_OK, "all %zu present (irqchip, PIT, CPUID, XSAVE, XCRS, events, "
				  "MP state, immediate exit, clock, dirty log), %d memory slots",
		    sizeof(kvm_caps) / sizeof(kvm_caps[0]), slots);
}

static void check_ring(struct doctor_check *checks, unsigned *n)
{
	struct doctor_check *c = add(checks, n, "guest-rings", false);
	struct ring_probe r;
	int err = ring_probe__run(&r);

	if (err) {
		set(c, DOCTOR_FAIL, "probe guest failed: %s", strerror(-err));
		c->required = true;
		return;
	}
	const char *io = r.ring3_port_io ? "ring-3 port I/O works"
					 : "ring-3 port I/O faults (IOPL not granted): "
					   "ring-3 guests use MMIO hypercalls";

	if (r.ring0_native)
		set(c, DOCTOR_OK, "ring 3 %.2f ns/iter, ring 0 %.2f ns/iter: ring 0 native; %s",
		    r.ring3_ns, r.ring0_ns, io);
	else
		set(c, DOCTOR_WARN,
		    "ring 3 %.2f ns/iter (native), ring 0 %.0f ns/iter: ring 0 emulated "
		    "(~%.0fx slower), Linux guests won't boot in useful time; %s",
		    r.ring3_ns, r.ring0_ns, r.ratio, io);
	c = add(checks, n, "linux-guests", false);
	if (r.ring0_native)
		set(c, DOCTOR_OK, "Linux guests supported (vmm run --kernel): ring 0 runs natively");
	else
		set(c, DOCTOR_WARN, "%s: vmm run --kernel refuses", RING_PROBE_NO_LINUX);
}

static void check_uffd(struct doctor_check *checks, unsigned *n)
{
	struct doctor_check *c = add(checks, n, "userfaultfd", true);
	struct mm_uffd_caps caps;

	mm_probe_uffd(&caps);
	if (caps.open_err) {
		set(c, DOCTOR_FAIL, "cannot create a userfaultfd: %s", strerror(-caps.open_err));
		return;
	}
	if (caps.wp_shmem_err) {
		set(c, DOCTOR_FAIL, "write-protect on shmem unavailable: %s",
		    strerror(-caps.wp_shmem_err));
		return;
	}
	if (caps.wp_multi_vma_err) {
		set(c, DOCTOR_WARN,
		    "write-protect across VMAs unavailable (%s; kernel before 6.4): mm's fallback "
		    "write-protects one VMA per call (more ioctls on a fragmented guest); "
		    "WP_UNPOPULATED %s, WP_ASYNC %s, MOVE %s (not needed)",
		    strerror(-caps.wp_multi_vma_err), caps.wp_unpopulated ? "yes" : "no",
		    caps.wp_async ? "yes" : "no", caps.move ? "yes" : "no");
		return;
	}
	set(c, DOCTOR_OK, "write-protect on shmem ok%s; WP_UNPOPULATED %s, WP_ASYNC %s, MOVE %s",
	    caps.fallback_forced ? " (MM_UFFD_FALLBACK: fallbacks forced)" : "",
	    caps.wp_unpopulated ? "yes" : "no", caps.wp_async ? "yes" : "no",
	    caps.move ? "yes" : "no");
}

static void check_io_uring(struct doctor_check *checks, unsigned *n)
{
	struct doctor_check *c = add(checks, n, "io_uring", true);
	struct io_uring ring;
	int err = io_uring_queue_init(4, &ring, 0);

	if (err < 0) {
		set(c, DOCTOR_FAIL, "io_uring_queue_init: %s", strerror(-err));
		return;
	}
	set(c, DOCTOR_OK, "io_uring usable (%s)",
	    ring.features & IORING_FEAT_NODROP ? "5.5+ features" : "basic");
	io_uring_queue_exit(&ring);
}

static void check_max_map_count(struct doctor_check *checks, unsigned *n)
{
	struct doctor_check *c = add(checks, n, "vm.max_map_count", false);
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long long v = 0;

	if (!f || fscanf(f, "%llu", &v) != 1) {
		set(c, DOCTOR_WARN, "cannot read /proc/sys/vm/max_map_count");
	} else if (v < 65530) {
		set(c, DOCTOR_WARN, "%llu, below the usual 65530: clones hit the mapping limit "
				    "sooner",
		    v);
	} else {
		set(c, DOCTOR_OK, "%llu mappings per process", v);
	}
	if (f)
		fclose(f);
}

unsigned doctor__run_checks(struct doctor_check *checks)
{
	unsigned n = 0;
	int kvm = check_kvm(checks, &n);

	if (kvm >= 0) {
		check_kvm_caps(kvm, checks, &n);
		close(kvm);
		check_ring(checks, &n);
	}
	check_uffd(checks, &n);
	check_io_uring(checks, &n);
	check_max_map_count(checks, &n);
	return n;
}

unsigned doctor__report(FILE *out, const struct doctor_check *checks, unsigned n)
{
	static const char *const tag[] = {"ok", "warn", "FAIL"};
	unsigned failed = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct doctor_check *c = &checks[i];

		fprintf(out, "%-5s %-17s %s%s\n", tag[c->verdict], c->name, c->detail,
			c->verdict == DOCTOR_FAIL && !c->required ? " (optional)" : "");
		failed += c->verdict == DOCTOR_FAIL && c->required;
	}
	if (failed)
		fprintf(out, "doctor: %u required check%s failed: this host cannot run the VMM\n",
			failed, failed == 1 ? "" : "s");
	else
		fprintf(out, "doctor: all required checks passed\n");
	return failed;
}
