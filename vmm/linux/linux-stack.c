// SPDX-License-Identifier: MIT
/*
 * linux-stack.c: the initial stack of a Linux process, as the kernel's
 * create_elf_tables() lays it out. From the top of RAM down:
 *
 *   AT_EXECFN string, envp strings, argv strings, "x86_64", 16 random bytes
 *   (padding to 16 bytes)
 *   auxv (type, value pairs, AT_NULL last), NULL, envp[], NULL, argv[], argc
 *   <- rsp (16-byte aligned)
 *
 * Invariant: everything is bounded (LINUX_ARGS_MAX) and lies inside the
 * stack mapping; nothing is written before the sizes are checked.
 */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "linux-internal.h"

#define MAX_AUXV 24

struct builder {
	struct linux_proc *p;
	uint64_t top;	/* strings go down from here */
};

static uint64_t push_bytes(struct builder *b, const void *data, size_t len)
{
	b->top -= len;
	memcpy(b->p->mem + b->top, data, len);
	return b->top;
}

static uint64_t hwcap(void)
{
	unsigned a, bx, c, d;

	return __get_cpuid(1, &a, &bx, &c, &d) ? d : 0;
}

static unsigned count(char *const *v)
{
	unsigned n = 0;

	while (v && v[n])
		n++;
	return n;
}

int stack__build(struct linux_proc *p, uint64_t phdr_gva, unsigned phnum,
		 uint64_t entry, int argc, char *const *argv, char *const *envp,
		 uint64_t *ret_rsp, char *msg, size_t msg_len)
{
	unsigned envc = count(envp), n = 0;
	uint64_t need = 64, words, sp, *w;
	uint64_t auxv[MAX_AUXV * 2], execfn, platform, random;
	uint8_t rnd[16];
	struct builder b = {.p = p, .top = p->mem_size};

	if (argc < 1) {
		snprintf(msg, msg_len, "no program name (argv[0])");
		return -EINVAL;
	}
	for (int i = 0; i < argc; i++)
		need += strlen(argv[i]) + 1 + 8;
	for (unsigned i = 0; i < envc; i++)
		need += strlen(envp[i]) + 1 + 8;
	need += strlen(argv[0]) + 1 + sizeof(auxv) + 16 + 32;
	if (need > LINUX_ARGS_MAX || need > (p->mem_size - p->stack_lo) / 2) {
		snprintf(msg, msg_len, "arguments and environment too long (%llu bytes, at most %u)",
			 (unsigned long long)need, LINUX_ARGS_MAX);
		return -E2BIG;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd)); /* not a security boundary here */

	b.top -= 8; /* a NULL word at the very top, as Linux leaves */
	memset(p->mem + b.top, 0, 8);
	execfn = push_bytes(&b, argv[0], strlen(argv[0]) + 1);
	uint64_t envs[envc + 1], args[argc + 1];

	for (unsigned i = envc; i-- > 0;)
		envs[i] = push_bytes(&b, envp[i], strlen(envp[i]) + 1);
	for (int i = argc; i-- > 0;)
		args[i] = push_bytes(&b, argv[i], strlen(argv[i]) + 1);
	platform = push_bytes(&b, "x86_64", 7);
	b.top &= ~15ULL;
	random = push_bytes(&b, rnd, sizeof(rnd));

#define AUX(t, v) (auxv[n++] = (t), auxv[n++] = (v))
	AUX(AT_PHDR, phdr_gva);
	AUX(AT_PHENT, sizeof(Elf64_Phdr));
	AUX(AT_PHNUM, phnum);
	AUX(AT_PAGESZ, PAGE);
	AUX(AT_BASE, 0);
	AUX(AT_FLAGS, 0);
	AUX(AT_ENTRY, entry);
	AUX(AT_UID, 0);
	AUX(AT_EUID, 0);
	AUX(AT_GID, 0);
	AUX(AT_EGID, 0);
	AUX(AT_PLATFORM, platform);
	AUX(AT_HWCAP, hwcap());
	AUX(AT_CLKTCK, 100);
	AUX(AT_SECURE, 0);
	AUX(AT_RANDOM, random);
	AUX(AT_HWCAP2, 0);
	AUX(AT_EXECFN, execfn);
	AUX(AT_NULL, 0);
#undef AUX
	words = 1 + (uint64_t)argc + 1 + envc + 1 + n;
	sp = (b.top - words * 8) & ~15ULL;
	w = (uint64_t *)(void *)(p->mem + sp);
	*w++ = (uint64_t)argc;
	for (int i = 0; i < argc; i++)
		*w++ = args[i];
	*w++ = 0;
	for (unsigned i = 0; i < envc; i++)
		*w++ = envs[i];
	*w++ = 0;
	memcpy(w, auxv, n * 8);
	*ret_rsp = sp;
	return 0;
}
