// SPDX-License-Identifier: MIT
/*
 * afl-fsrv.c: the fork-server protocol's messages (see afl-fsrv.h). Plain
 * reads and writes of one word; EINTR is retried, a short read or write
 * means afl-fuzz went away.
 */
#include <errno.h>
#include <unistd.h>

#include "afl-fsrv.h"

/* @eintr: return -EINTR on a signal instead of retrying. */
static int xfer(int fd, uint32_t *word, bool out, bool eintr)
{
	size_t done = 0;

	while (done < sizeof(*word)) {
		ssize_t n = out ? write(fd, (char *)word + done, sizeof(*word) - done)
				: read(fd, (char *)word + done, sizeof(*word) - done);

		if (n < 0 && errno == EINTR && !(eintr && !done))
			continue;
		if (n < 0)
			return errno == EPIPE ? -EPIPE : -errno;
		if (n == 0)
			return -EPIPE;
		done += (size_t)n;
	}
	return 0;
}

uint32_t afl_fsrv__hello_word(uint32_t map_size, bool shm_fuzz)
{
	uint32_t w = 0;

	if (map_size > 1 && map_size <= AFL_FS_OPT_MAX_MAPSIZE)
		w |= AFL_FS_OPT_MAPSIZE | (map_size - 1) << 1;
	if (shm_fuzz)
		w |= AFL_FS_OPT_SHDMEM_FUZZ;
	/*
	 * No FS_OPT_NEWCMPLOG: a guest has no CMPLOG map, and afl-fuzz -c then
	 * stops at once instead of running a CMPLOG stage that finds nothing.
	 */
	return w ? w | AFL_FS_OPT_ENABLED : 0;
}

int afl_fsrv__hello(const struct afl_fsrv *s, uint32_t map_size, bool shm_fuzz,
		    bool *ret_shm_fuzz)
{
	uint32_t w = afl_fsrv__hello_word(map_size, shm_fuzz), answer = 0;
	int err = xfer(s->st_fd, &w, true, false);

	if (!err && shm_fuzz)
		err = xfer(s->ctl_fd, &answer, false, false);
	if (err)
		return err;
	*ret_shm_fuzz = shm_fuzz && (answer & (AFL_FS_OPT_ENABLED | AFL_FS_OPT_SHDMEM_FUZZ)) ==
					    (AFL_FS_OPT_ENABLED | AFL_FS_OPT_SHDMEM_FUZZ);
	return 0;
}

int afl_fsrv__next(const struct afl_fsrv *s, uint32_t *ret_was_killed)
{
	return xfer(s->ctl_fd, ret_was_killed, false, true);
}

int afl_fsrv__send(const struct afl_fsrv *s, uint32_t word)
{
	return xfer(s->st_fd, &word, true, false);
}

int afl_fsrv__error(const struct afl_fsrv *s, uint32_t code)
{
	uint32_t w = AFL_FS_OPT_ERROR | (code & 0xffff) << 8;

	return xfer(s->st_fd, &w, true, false);
}
