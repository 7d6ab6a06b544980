/* SPDX-License-Identifier: MIT */
/*
 * afl-fsrv: AFL++'s fork-server protocol, the target's side, as afl-fuzz
 * 4.04c speaks it (src/afl-forkserver.c, instrumentation/afl-compiler-rt.o.c).
 *
 * afl-fuzz starts the target with a control pipe on fd 198 (it writes) and
 * a status pipe on fd 199 (it reads). All messages are 32-bit words in host
 * byte order:
 *
 *   target -> "hello": 0, or FS_OPT_ENABLED | options (MAPSIZE with the
 *             map's size, SHDMEM_FUZZ when __AFL_SHM_FUZZ_ID is set)
 *   afl    -> when SHDMEM_FUZZ was offered (and no AUTODICT): its answer,
 *             FS_OPT_ENABLED | FS_OPT_SHDMEM_FUZZ if it will use it
 *   then per run:
 *   afl    -> 4 bytes: nonzero if it killed the previous run's child
 *   target -> the child's pid (> 0: afl-fuzz kill()s it on a timeout)
 *   target -> the child's wait status (WIFSIGNALED: a crash)
 *
 * Constants are AFL++'s values (include/config.h, include/types.h); the
 * names carry an AFL_ prefix here.
 */
#ifndef VMM_AFL_FSRV_H
#define VMM_AFL_FSRV_H

#include <stdbool.h>
#include <stdint.h>

#define AFL_FORKSRV_FD 198	/* control (read); status is AFL_FORKSRV_FD + 1 */
#define AFL_SHM_ENV_VAR "__AFL_SHM_ID"
#define AFL_SHM_FUZZ_ENV_VAR "__AFL_SHM_FUZZ_ID"
#define AFL_MAP_SIZE_DEFAULT 65536u	/* MAP_SIZE */
#define AFL_MAX_FILE (1u << 20)		/* MAX_FILE: a shared-memory test case */

#define AFL_FS_OPT_ENABLED 0x80000001u
#define AFL_FS_OPT_MAPSIZE 0x40000000u
#define AFL_FS_OPT_SHDMEM_FUZZ 0x01000000u
#define AFL_FS_OPT_MAX_MAPSIZE (1u << 23)
#define AFL_FS_OPT_ERROR 0xf800008fu
#define AFL_FS_ERROR_SHMAT 8u	/* "the fuzzing target reports that the shmat() call failed" */

struct afl_fsrv {
	int ctl_fd, st_fd;
};

/* The hello word for a map of @map_size bytes (2..8 MiB) and shared-memory test cases. */
uint32_t afl_fsrv__hello_word(uint32_t map_size, bool shm_fuzz);

/*
 * Send hello; if @shm_fuzz was offered read afl's answer: *@ret_shm_fuzz
 * says whether afl-fuzz will put test cases in shared memory.
 * 0, -EPIPE (afl-fuzz is gone), or -errno.
 */
int afl_fsrv__hello(const struct afl_fsrv *s, uint32_t map_size, bool shm_fuzz,
		    bool *ret_shm_fuzz);
/*
 * Wait for the next run: 0 with *@ret_was_killed; -EPIPE at EOF (afl-fuzz
 * quit); -EINTR if a signal came before any byte did.
 */
int afl_fsrv__next(const struct afl_fsrv *s, uint32_t *ret_was_killed);
/* One word to afl-fuzz (a pid, a status): 0, -EPIPE, -errno. */
int afl_fsrv__send(const struct afl_fsrv *s, uint32_t word);
/* Instead of hello: an FS_ERROR_* code afl-fuzz explains (AFL_FS_ERROR_SHMAT). */
int afl_fsrv__error(const struct afl_fsrv *s, uint32_t code);

#endif
