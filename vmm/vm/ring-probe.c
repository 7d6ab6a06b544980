// SPDX-License-Identifier: MIT
/*
 * ring-probe.c: how fast guest code runs here, at ring 3 and at ring 0.
 *
 * A throwaway VM runs the same countdown loop entered in 64-bit mode at CPL
 * 3 and at CPL 0, each for two iteration counts; the difference of the two
 * run times over the difference of the counts is the cost of one iteration
 * without VM entry and exit. On a PVM host ring 0 is emulated (~2000x
 * slower); on hardware virtualization both run natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ring-probe.h"
#include "x86-setup.h"

#define PROBE_MEM (2ULL << 20)
#define PROBE_CODE 0x10000
#define PROBE_STACK 0x1f0000
#define PROBE_MMIO 0x40000000 /* mapped by the page tables, outside the memory slot */

/*
 *   48 c7 c1 NN NN NN NN   mov rcx, imm32
 * loop:
 *   48 ff c9               dec rcx
 *   75 fb                  jnz loop
 *   88 04 25 00 00 00 40   mov [0x40000000], al   (MMIO write: exit to the VMM)
 *   eb fe                  jmp .
 *
 * An MMIO write, not port I/O: a PVM host does not give guest ring 3 the
 * IOPL, so `out` at CPL 3 faults there even with IOPL 3 in RFLAGS.
 */
static const uint8_t probe_code[] = {
	0x48, 0xc7, 0xc1, 0,    0,    0,    0,    0x48, 0xff, 0xc9, 0x75,
	0xfb, 0x88, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40, 0xeb, 0xfe,
};

/* out 0xf4, al; jmp . */
static const uint8_t port_code[] = {0xe6, 0xf4, 0xeb, 0xfe};

struct probe_vm {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

static void probe_vm_close(struct probe_vm *p)
{
	if (p->run)
		munmap(p->run, p->run_size);
	if (p->mem)
		munmap(p->mem, PROBE_MEM);
	if (p->vcpu >= 0)
		close(p->vcpu);
	if (p->vm >= 0)
		close(p->vm);
}

static int probe_vm_open(struct probe_vm *p, int kvm)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = PROBE_MEM,
	};
	int mmap_size, err;

	*p = (struct probe_vm){.kvm = kvm, .vm = -1, .vcpu = -1};
	p->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (p->vm < 0)
		return -errno;
	p->mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED) {
		p->mem = NULL;
		return -errno;
	}
	region.userspace_addr = (uintptr_t)p->mem;
	if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -errno;
	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	if (p->vcpu < 0)
		return -errno;
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0)
		return -errno;
	p->run_size = (size_t)mmap_size;
	p->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
	if (p->run == MAP_FAILED) {
		p->run = NULL;
		return -errno;
	}
	err = x86_setup__cpuid(kvm, p->vcpu);
	if (err)
		return err;
	return x86_setup__tables(p->mem, PROBE_MEM, PROBE_MMIO);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* Load @code and enter it in long mode at CPL 3 (IOPL 3) or CPL 0. */
static int probe_enter(struct probe_vm *p, bool user, const uint8_t *code, size_t len)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = PROBE_CODE,
		.rsp = PROBE_STACK,
		.rflags = X86_RFLAGS_FIXED | (user ? X86_RFLAGS_IOPL3 : 0),
	};

	memcpy(p->mem + PROBE_CODE, code, len);
	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	x86_setup__sregs(&sregs, user);
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

/*
 * KVM_RUN, retried when it returns without running the guest to an exit
 * (EINTR: a signal or a host-side interruption, seen on PVM hosts).
 */
static int probe_kvm_run(struct probe_vm *p)
{
	for (int tries = 0; tries < 100; tries++) {
		if (ioctl(p->vcpu, KVM_RUN, 0) == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	return -EINTR;
}

/* Run the loop @iters times at CPL 3 or 0; the run time in ns. */
static int probe_run(struct probe_vm *p, bool user, uint32_t iters, double *ret_ns)
{
	int err = probe_enter(p, user, probe_code, sizeof(probe_code));
	double t0;

	if (err)
		return err;
	memcpy(p->mem + PROBE_CODE + 3, &iters, sizeof(iters));
	t0 = now_ns();
	err = probe_kvm_run(p);
	if (err)
		return err;
	*ret_ns = now_ns() - t0;
	if (p->run->exit_reason != KVM_EXIT_MMIO || p->run->mmio.phys_addr != PROBE_MMIO)
		return -EIO; /* the guest crashed or exited some other way */
	return 0;
}

/*
 * ns per iteration: (t(n2) - t(n1)) / (n2 - n1), each time the fastest of
 * five runs (up to fifteen while the difference is not positive). Noise
 * only adds time, so the minima are the runs least disturbed; the
 * difference of two single runs can be anything on a busy host (a
 * preempted short run made ring 0 look free: "native"). A difference that
 * is still not positive is no measurement: -EAGAIN.
 */
static int probe_rate(struct probe_vm *p, bool user, uint32_t n1, uint32_t n2, double *ret_ns)
{
	double best1 = 0, best2 = 0;

	for (int i = 0; i < 5 || (best2 <= best1 && i < 15); i++) {
		double t1, t2;
		int err = probe_run(p, user, n1, &t1);

		if (!err)
			err = probe_run(p, user, n2, &t2);
		if (err)
			return err;
		if (i == 0 || t1 < best1)
			best1 = t1;
		if (i == 0 || t2 < best2)
			best2 = t2;
	}
	if (best2 <= best1)
		return -EAGAIN;
	*ret_ns = (best2 - best1) / (double)(n2 - n1);
	return 0;
}

/* Does `out` at CPL 3 with IOPL 3 reach the VMM, or fault in the guest? */
static int probe_port_io(struct probe_vm *p, bool *ret_ok)
{
	int err = probe_enter(p, true, port_code, sizeof(port_code));

	if (!err)
		err = probe_kvm_run(p);
	if (err)
		return err;
	*ret_ok = p->run->exit_reason == KVM_EXIT_IO && p->run->io.port == 0xf4;
	return 0;
}

static int probe(struct ring_probe *ret, uint32_t ring3_iters, bool port_io)
{
	struct probe_vm p;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int err;

	if (kvm < 0)
		return -errno;
	ret->ring3_port_io = false;
	err = probe_vm_open(&p, kvm);
	if (!err)
		err = probe_rate(&p, true, ring3_iters / 11, ring3_iters, &ret->ring3_ns);
	if (!err)
		err = probe_rate(&p, false, 200, 1200, &ret->ring0_ns);
	/* Last: a fault here leaves the vCPU shut down. */
	if (!err && port_io)
		err = probe_port_io(&p, &ret->ring3_port_io);
	probe_vm_close(&p);
	close(kvm);
	if (err)
		return err;
	ret->ratio = ret->ring0_ns / ret->ring3_ns;
	ret->ring0_native = ret->ratio < 20;
	return 0;
}

int ring_probe__run(struct ring_probe *ret)
{
	return probe(ret, 11000000, true);
}

int ring_probe__quick(struct ring_probe *ret)
{
	return probe(ret, 1100000, false);
}
