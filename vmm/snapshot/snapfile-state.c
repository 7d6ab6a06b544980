// SPDX-License-Identifier: MIT
/*
 * snapfile-state.c: struct vm_state <-> the records of a snapshot's state
 * section (layout in snapfile.h).
 *
 * Encoding refuses a state that decoding would reject, so a file this vmm
 * writes is one it can read. Decoding trusts nothing: a record's length is
 * checked against what is left of the section before the record is read,
 * every size against its cap before anything is allocated, and a state comes
 * out only whole (one VM record, one record per vCPU). A partly decoded
 * state is always in a shape vm_state__free frees.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapfile.h"

struct decoder {
	struct vm_state *st;
	bool have_vm;
	uint64_t seen; /* bit i: vCPU i's record decoded */
	size_t off;    /* of the current record in the section */
	char *msg;
	size_t msg_len;
};

static __attribute__((format(printf, 3, 4))) int fail(struct decoder *d, int err, const char *fmt,
						      ...)
{
	va_list ap;

	if (d->msg && d->msg_len) {
		va_start(ap, fmt);
		vsnprintf(d->msg, d->msg_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static uint32_t msr_count(const struct vcpu_state *c)
{
	return c->msrs ? c->msrs->nmsrs : 0;
}

static size_t vcpu_payload_len(const struct vcpu_state *c)
{
	return sizeof(struct snapfile_vcpu_v1) + c->xsave_size +
	       msr_count(c) * sizeof(struct kvm_msr_entry);
}

/* What decode_vcpu would reject; KVM_SET_XSAVE reads a whole struct kvm_xsave. */
static int check_vcpu(const struct vcpu_state *c)
{
	if (!c->xsave || c->xsave_size < sizeof(struct kvm_xsave))
		return -EINVAL;
	if (c->xsave_size > SNAPFILE_MAX_XSAVE || msr_count(c) > SNAPFILE_MAX_MSRS)
		return -E2BIG;
	return 0;
}

/* The buffer encode fills; sized up front from the same fields put_* write. */
struct out {
	uint8_t *buf;
	size_t len, off;
};

static void put(struct out *o, const void *src, size_t len)
{
	if (len > o->len - o->off)
		return; /* cannot happen; encode would see o->off != o->len */
	memcpy(o->buf + o->off, src, len);
	o->off += len;
}

static void put_record(struct out *o, uint32_t type, size_t len)
{
	struct snapfile_record r = {.type = type, .version = 1, .length = (uint32_t)len};

	put(o, &r, sizeof(r));
}

static void put_vm(struct out *o, const struct vm_state *st)
{
	struct snapfile_vm_v1 vm;

	memset(&vm, 0, sizeof(vm));
	vm.flags =
		(st->has_irqchip ? SNAPFILE_VM_IRQCHIP : 0) | (st->has_pit ? SNAPFILE_VM_PIT : 0);
	memcpy(vm.chips, st->chips, sizeof(vm.chips));
	vm.pit = st->pit;
	vm.clock = st->clock;
	put_record(o, SNAPFILE_REC_VM, sizeof(vm));
	put(o, &vm, sizeof(vm));
}

static void put_vcpu(struct out *o, unsigned index, const struct vcpu_state *c)
{
	struct snapfile_vcpu_v1 v;

	memset(&v, 0, sizeof(v));
	v.index = index;
	v.flags = (c->has_xcrs ? SNAPFILE_VCPU_XCRS : 0) | (c->has_lapic ? SNAPFILE_VCPU_LAPIC : 0) |
		  (c->parked ? SNAPFILE_VCPU_PARKED : 0);
	v.xsave_size = (uint32_t)c->xsave_size;
	v.nmsrs = msr_count(c);
	v.mp = c->mp;
	v.regs = c->regs;
	v.sregs = c->sregs;
	v.xcrs = c->xcrs;
	v.lapic = c->lapic;
	v.events = c->events;
	v.debugregs = c->debugregs;
	put_record(o, SNAPFILE_REC_VCPU, vcpu_payload_len(c));
	put(o, &v, sizeof(v));
	put(o, c->xsave, c->xsave_size);
	if (v.nmsrs)
		put(o, c->msrs->entries, v.nmsrs * sizeof(struct kvm_msr_entry));
}

int snapfile__encode_state(const struct vm_state *st, void **ret_buf, size_t *ret_len)
{
	struct out o = {.len = sizeof(struct snapfile_record) + sizeof(struct snapfile_vm_v1)};
	int err;

	if (!st || !st->nr_cpus || !st->cpus)
		return -EINVAL;
	if (st->nr_cpus > SNAPFILE_MAX_CPUS)
		return -E2BIG;
	for (unsigned i = 0; i < st->nr_cpus; i++) {
		err = check_vcpu(&st->cpus[i]);
		if (err)
			return err;
		o.len += sizeof(struct snapfile_record) + vcpu_payload_len(&st->cpus[i]);
	}
	if (o.len > SNAPFILE_MAX_STATE)
		return -E2BIG;
	o.buf = malloc(o.len);
	if (!o.buf)
		return -ENOMEM;
	put_vm(&o, st);
	for (unsigned i = 0; i < st->nr_cpus; i++)
		put_vcpu(&o, i, &st->cpus[i]);
	if (o.off != o.len) {
		free(o.buf);
		return -EOVERFLOW;
	}
	*ret_buf = o.buf;
	*ret_len = o.len;
	return 0;
}

static int decode_vm(struct decoder *d, const struct snapfile_record *r, const uint8_t *p)
{
	struct vm_state *st = d->st;
	struct snapfile_vm_v1 vm;

	if (d->have_vm)
		return fail(d, -EINVAL, "state record at offset %zu: a second VM record", d->off);
	if (r->length != sizeof(vm))
		return fail(d, -EINVAL, "VM record: %u bytes, version 1 has %zu", r->length,
			    sizeof(vm));
	memcpy(&vm, p, sizeof(vm));
	if (vm.flags & ~(uint32_t)(SNAPFILE_VM_IRQCHIP | SNAPFILE_VM_PIT))
		return fail(d, -ENOTSUP, "VM record: unknown flags 0x%x", vm.flags);
	st->has_irqchip = vm.flags & SNAPFILE_VM_IRQCHIP;
	st->has_pit = vm.flags & SNAPFILE_VM_PIT;
	memcpy(st->chips, vm.chips, sizeof(st->chips));
	st->pit = vm.pit;
	st->clock = vm.clock;
	d->have_vm = true;
	return 0;
}

/* The fixed part's sizes and flags, before anything is allocated. */
static int check_vcpu_record(struct decoder *d, const struct snapfile_record *r,
			     const struct snapfile_vcpu_v1 *v)
{
	unsigned i = v->index;
	size_t want;

	if (i >= d->st->nr_cpus)
		return fail(d, -EINVAL, "state record at offset %zu: vCPU %u, the snapshot has %u",
			    d->off, i, d->st->nr_cpus);
	if (d->seen & (1ull << i))
		return fail(d, -EINVAL, "vCPU %u record: a second one at offset %zu", i, d->off);
	if (v->flags & ~(uint32_t)(SNAPFILE_VCPU_XCRS | SNAPFILE_VCPU_LAPIC | SNAPFILE_VCPU_PARKED))
		return fail(d, -ENOTSUP, "vCPU %u record: unknown flags 0x%x", i, v->flags);
	if (v->xsave_size > SNAPFILE_MAX_XSAVE)
		return fail(d, -E2BIG, "vCPU %u record: xsave size %u over the %u MiB cap", i,
			    v->xsave_size, SNAPFILE_MAX_XSAVE >> 20);
	if (v->xsave_size < sizeof(struct kvm_xsave))
		return fail(d, -EINVAL,
			    "vCPU %u record: xsave size %u under the %zu bytes of struct kvm_xsave",
			    i, v->xsave_size, sizeof(struct kvm_xsave));
	if (v->nmsrs > SNAPFILE_MAX_MSRS)
		return fail(d, -E2BIG, "vCPU %u record: %u MSRs over the cap of %u", i, v->nmsrs,
			    SNAPFILE_MAX_MSRS);
	want = sizeof(*v) + v->xsave_size + v->nmsrs * sizeof(struct kvm_msr_entry);
	if (r->length != want)
		return fail(d, -EINVAL, "vCPU %u record: %u bytes, its contents need %zu", i,
			    r->length, want);
	return 0;
}

static int decode_vcpu(struct decoder *d, const struct snapfile_record *r, const uint8_t *p)
{
	struct snapfile_vcpu_v1 v;
	struct vcpu_state *c;
	size_t msr_bytes;
	int err;

	if (r->length < sizeof(v))
		return fail(d, -EINVAL,
			    "vCPU record at offset %zu: %u bytes, its fixed part is %zu", d->off,
			    r->length, sizeof(v));
	memcpy(&v, p, sizeof(v));
	err = check_vcpu_record(d, r, &v);
	if (err)
		return err;
	c = &d->st->cpus[v.index];
	msr_bytes = v.nmsrs * sizeof(struct kvm_msr_entry);
	/* Allocated the way vm-state.c does, so vm_state__free frees them. */
	c->xsave = calloc(1, v.xsave_size);
	c->msrs = calloc(1, sizeof(*c->msrs) + msr_bytes);
	if (!c->xsave || !c->msrs)
		return fail(d, -ENOMEM, "vCPU %u record: out of memory", v.index);
	c->xsave_size = v.xsave_size;
	memcpy(c->xsave, p + sizeof(v), v.xsave_size);
	c->msrs->nmsrs = v.nmsrs;
	memcpy(c->msrs->entries, p + sizeof(v) + v.xsave_size, msr_bytes);
	c->regs = v.regs;
	c->sregs = v.sregs;
	c->xcrs = v.xcrs;
	c->has_xcrs = v.flags & SNAPFILE_VCPU_XCRS;
	c->lapic = v.lapic;
	c->has_lapic = v.flags & SNAPFILE_VCPU_LAPIC;
	c->parked = v.flags & SNAPFILE_VCPU_PARKED;
	c->events = v.events;
	c->mp = v.mp;
	c->debugregs = v.debugregs;
	d->seen |= 1ull << v.index;
	return 0;
}

/* The record header at d->off: inside the section, of a type and version we read. */
static int read_record(struct decoder *d, const uint8_t *buf, size_t len,
		       struct snapfile_record *ret_r)
{
	struct snapfile_record r;
	const char *name;

	if (len - d->off < sizeof(r))
		return fail(d, -EINVAL, "state record at offset %zu: cut off by the section end",
			    d->off);
	memcpy(&r, buf + d->off, sizeof(r));
	if (r.length > len - d->off - sizeof(r))
		return fail(d, -EINVAL,
			    "state record at offset %zu: length %u runs past the %zu-byte section",
			    d->off, r.length, len);
	if (r.type != SNAPFILE_REC_VM && r.type != SNAPFILE_REC_VCPU)
		return fail(d, -ENOTSUP, "state record at offset %zu: unknown type %u", d->off,
			    r.type);
	name = r.type == SNAPFILE_REC_VM ? "VM" : "vCPU";
	if (r.version != 1)
		return fail(d, -ENOTSUP,
			    "%s record at offset %zu: version %u, this vmm reads version 1", name,
			    d->off, r.version);
	*ret_r = r;
	return 0;
}

static int decode_records(struct decoder *d, const uint8_t *buf, size_t len)
{
	struct snapfile_record r;
	int err;

	for (d->off = 0; d->off < len; d->off += sizeof(r) + r.length) {
		err = read_record(d, buf, len, &r);
		if (!err && r.type == SNAPFILE_REC_VM)
			err = decode_vm(d, &r, buf + d->off + sizeof(r));
		else if (!err)
			err = decode_vcpu(d, &r, buf + d->off + sizeof(r));
		if (err)
			return err;
	}
	if (!d->have_vm)
		return fail(d, -EINVAL, "state section: no VM record");
	for (unsigned i = 0; i < d->st->nr_cpus; i++)
		if (!(d->seen & (1ull << i)))
			return fail(d, -EINVAL, "state section: no record for vCPU %u", i);
	return 0;
}

int snapfile__decode_state(const void *buf, size_t len, unsigned nr_cpus,
			   struct vm_state **ret_state, char *ret_msg, size_t msg_len)
{
	struct decoder d = {.msg = ret_msg, .msg_len = msg_len};
	int err;

	if (len > SNAPFILE_MAX_STATE)
		return fail(&d, -E2BIG, "state section of %zu bytes over the %u MiB cap", len,
			    SNAPFILE_MAX_STATE >> 20);
	if (!nr_cpus || nr_cpus > SNAPFILE_MAX_CPUS)
		return fail(&d, nr_cpus ? -E2BIG : -EINVAL, "%u vCPUs, the cap is %u", nr_cpus,
			    SNAPFILE_MAX_CPUS);
	d.st = calloc(1, sizeof(*d.st));
	if (!d.st)
		return fail(&d, -ENOMEM, "state section: out of memory");
	d.st->cpus = calloc(nr_cpus, sizeof(d.st->cpus[0]));
	if (!d.st->cpus) {
		free(d.st);
		return fail(&d, -ENOMEM, "state section: out of memory");
	}
	d.st->nr_cpus = nr_cpus;
	err = decode_records(&d, buf, len);
	if (err) {
		vm_state__free(d.st);
		return err;
	}
	*ret_state = d.st;
	return 0;
}
