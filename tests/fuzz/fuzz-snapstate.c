// SPDX-License-Identifier: MIT
/*
 * fuzz-snapstate: a snapshot's state-section decoder
 * (snapfile__decode_state, vmm/snapshot/snapfile-state.c) on any bytes.
 * Input: one byte, the vCPU count the header would give (0-255), then the
 * section.
 *
 * Properties, beyond no memory error, UB or leak:
 *  - a rejected section has a message;
 *  - an accepted one has every vCPU's xsave and MSRs within the caps, and
 *    encodes (snapfile__encode_state) to a section that decodes again and
 *    encodes to the same bytes: what restore reads, a snapshot can write.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "snapfile.h"

static void check_state(const struct vm_state *st, unsigned nr_cpus)
{
	FUZZ_CHECK(st->nr_cpus == nr_cpus, "%u vCPUs decoded, %u asked", st->nr_cpus, nr_cpus);
	for (unsigned i = 0; i < nr_cpus; i++) {
		const struct vcpu_state *c = &st->cpus[i];

		FUZZ_CHECK(c->xsave && c->xsave_size >= sizeof(struct kvm_xsave) &&
				   c->xsave_size <= SNAPFILE_MAX_XSAVE,
			   "vCPU %u: xsave %zu bytes", i, c->xsave_size);
		FUZZ_CHECK(c->msrs && c->msrs->nmsrs <= SNAPFILE_MAX_MSRS, "vCPU %u: MSRs", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_state *st, *again;
	void *buf, *buf2;
	size_t len, len2;
	unsigned nr_cpus;
	char msg[256];
	int err;

	if (size < 1)
		return 0;
	nr_cpus = data[0];
	msg[0] = '\0';
	err = snapfile__decode_state(data + 1, size - 1, nr_cpus, &st, msg, sizeof(msg));
	if (err) {
		FUZZ_CHECK(err == -EINVAL || err == -ENOTSUP || err == -E2BIG, "error %d: %s", err,
			   msg);
		FUZZ_CHECK(msg[0], "rejected without a message");
		FUZZ_REJECT("%s", msg);
		return 0;
	}
	check_state(st, nr_cpus);
	err = snapfile__encode_state(st, &buf, &len);
	FUZZ_CHECK(!err, "a decoded state does not encode: %d", err);
	err = snapfile__decode_state(buf, len, nr_cpus, &again, msg, sizeof(msg));
	FUZZ_CHECK(!err, "an encoded state does not decode: %s", msg);
	err = snapfile__encode_state(again, &buf2, &len2);
	FUZZ_CHECK(!err, "a re-decoded state does not encode: %d", err);
	FUZZ_CHECK(len == len2 && !memcmp(buf, buf2, len), "encode(decode(encode(x))) differs");
	free(buf2);
	free(buf);
	vm_state__free(again);
	vm_state__free(st);
	FUZZ_ACCEPT();
	return 0;
}
