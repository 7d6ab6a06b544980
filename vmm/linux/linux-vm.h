/* SPDX-License-Identifier: MIT */
/*
 * linux-vm: a static Linux program on a VM (the KVM glue of vmm/linux).
 *
 * The syscall entry: LSTAR points at a stub on the one user-accessible page
 * of the guarded low 2 MiB (LINUX_STUB_GPA):
 *
 *     movabs %rax, ABI_SYSCALL_MMIO   # an MMIO exit: the VMM serves the call
 *     sysretq                         # reached only where syscall entered ring 0
 *     ud2
 *
 * On this project's PVM hosts `syscall` stays at CPL 3 and the VMM returns
 * to the caller itself (rip = rcx, rflags = r11); on hardware KVM it enters
 * ring 0 and the stub's sysretq returns (vmm/vm/vm.c, handle_syscall). The
 * stub touches no stack (the caller's red zone stays intact) and no
 * register but rax (and rcx/r11, which `syscall` itself clobbers).
 * Every call is served by the VMM: none is answered inside the guest yet
 * (README.md, "Linux programs", says why).
 */
#ifndef VMM_LINUX_VM_H
#define VMM_LINUX_VM_H

#include <stdio.h>

#include "linux.h"
#include "vm.h"

struct linux_vm_config {
	const void *image;
	size_t size;
	int argc;
	char *const *argv;	/* argv[0] is the program's name */
	char *const *envp;	/* NULL-terminated; NULL: empty */
	struct linux_file *files; /* grants; host fds owned from the call on */
	unsigned nr_files;
	int stderr_fd;		/* the guest's fd 2; -1: the console */
	bool vm_owns;		/* the VM frees the result (*ret_lv is NULL then) */
};

struct linux_vm;

/*
 * Load the program into @vm (one vCPU, not started) and serve its system
 * calls. -ENOEXEC/-ERANGE/-E2BIG/-EINVAL with @ret_msg saying why. The
 * result outlives the VM's vCPUs: destroy it after the VM (unless
 * @cfg->vm_owns: then the VM does).
 */
int linux_vm__load(struct vm *vm, const struct linux_vm_config *cfg, struct linux_vm **ret_lv,
		   char *ret_msg, size_t msg_len);
void linux_vm__destroy(struct linux_vm *lv); /* NULL: no-op */
struct linux_proc *linux_vm__proc(struct linux_vm *lv);
/* --stats lines: calls, unknown calls by number and name, memory. */
void linux_vm__print_stats(FILE *out, struct linux_vm *lv);

/*
 * Parse `--file HOST[:GUEST]` (split at the first ':'; GUEST defaults to
 * HOST, a relative path is taken from "/") and open HOST read-only: it must
 * be a regular file. 0, or -errno with @ret_msg.
 */
int linux_vm__grant(const char *arg, struct linux_file *ret_file, char *ret_msg, size_t msg_len);

#endif
