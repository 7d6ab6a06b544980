/*
 * argv, envp and the auxiliary vector as the VMM builds them: prints them
 * and exits 0 when every check holds, else with the number of the check.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

int main(int argc, char **argv, char **envp)
{
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned n = 0, nonzero = 0;

	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (char **e = envp; *e; e++, n++)
		printf("env %s\n", *e);
	if (argc != 3 || strcmp(argv[1], "one") || strcmp(argv[2], "two words"))
		return 10;
	if (!getenv("VMM_TEST") || strcmp(getenv("VMM_TEST"), "yes=1") || n != 2)
		return 11;
	if (getauxval(AT_PAGESZ) != 4096 || getauxval(AT_PHENT) != sizeof(Elf64_Phdr))
		return 12;
	if (!rnd || !execfn || strcmp(execfn, argv[0]))
		return 13;
	for (int i = 0; i < 16; i++)
		nonzero |= rnd[i];
	if (!nonzero)
		return 14;
	if (!ph || getauxval(AT_PHNUM) == 0 || getauxval(AT_SECURE) != 0)
		return 15;
	for (unsigned i = 0; i < getauxval(AT_PHNUM); i++)
		if (ph[i].p_type == PT_LOAD)
			goto loaded;
	return 16;
loaded:
	if (((unsigned long)__builtin_frame_address(0) & 15) != 0)
		return 17;
	printf("args ok: argc %d, env %u, pagesz %lu, hwcap %#lx\n", argc, n,
	       getauxval(AT_PAGESZ), getauxval(AT_HWCAP));
	return 0;
}
