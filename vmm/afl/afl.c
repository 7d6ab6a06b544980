// SPDX-License-Identifier: MIT
/*
 * afl.c: `vmm afl`'s fork server over a resettable guest (see afl.h).
 *
 * vmm/afl sits beside vmm/bench: it calls vmm/fuzz (the reset loop),
 * vmm/vm (stop reasons), vmm/linux's core (the signal of an exception)
 * and mm. Public: afl.h; afl-fsrv.h is the protocol, afl-child.h the
 * stand-in child.
 *
 * Invariants:
 * - The status of a run goes out only after the guest's map is in
 *   afl-fuzz's map, and the next run starts only after the reset.
 * - The pid afl-fuzz holds during a run is a live stand-in's, or one
 *   afl-fuzz itself killed: a kill afl-fuzz sent for an earlier run is
 *   waited for before the next pid goes out (was_killed), so it never
 *   ends a later run.
 * - afl-fuzz's SIGKILL reaches only the stand-in; its SIGTERM (it quits)
 *   ends the VMM between runs, cleanly.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afl-child.h"
#include "afl-fsrv.h"
#include "afl.h"
#include "clock.h"
#include "linux.h"

/* A guest without a coverage map gets one from its outcome (afl.h). */
#define OUTCOME_MAP_SIZE 256
#define RUN_FOREVER_MS INT_MAX /* afl-fuzz's -t ends hangs: it kills the stand-in */

struct afl {
	const struct afl_config *cfg;
	struct fuzz *f;
	struct afl_fsrv fsrv;
	uint8_t *map;		/* afl-fuzz's map, or map_own */
	size_t map_len;
	uint8_t map_own[OUTCOME_MAP_SIZE];
	uint32_t map_size;	/* what the hello announces */
	const uint8_t *tc;	/* afl-fuzz's shared-memory test case: u32 length, data */
	uint8_t *buf;		/* a test case read from a file */
	struct afl_child child;
	int epfd;		/* the stand-in's pidfd and afl-fuzz's control pipe */
	struct afl_summary sum;
};

static volatile sig_atomic_t quit;

static void on_term(int sig)
{
	(void)sig;
	quit = 1;
}

int afl__wait_status(const struct fuzz_result *r)
{
	const struct vm_stop *s = &r->stop;

	switch (r->outcome) {
	case FUZZ_DONE:
		return 0;
	case FUZZ_EXIT:
		return s->reason == VM_STOP_EXIT ? (s->status & 0xff) << 8 : SIGABRT;
	case FUZZ_TIMEOUT:
	case FUZZ_CANCELLED:
		return SIGKILL;
	case FUZZ_CRASH:
		break;
	}
	if (s->signal > 0 && s->signal < 64)
		return s->signal;
	if (s->reason == VM_STOP_CRASH && s->have_vector)
		return linux__vector_signal(s->vector);
	if (s->reason == VM_STOP_UNHANDLED)
		return SIGBUS; /* an access to no device */
	return SIGSEGV;	       /* a triple fault, a frame outside memory */
}

/* shmat() the segment whose id is in @env: NULL if unset, MAP_FAILED on error. */
static void *attach(const char *env, size_t *ret_len)
{
	const char *v = getenv(env);
	struct shmid_ds ds;
	char *end;
	long id;
	void *p;

	if (!v)
		return NULL;
	errno = 0;
	id = strtol(v, &end, 10);
	if (errno || end == v || *end || id < 0 || id > INT_MAX)
		return MAP_FAILED;
	p = shmat((int)id, NULL, 0);
	if (p == (void *)-1 || shmctl((int)id, IPC_STAT, &ds))
		return MAP_FAILED;
	*ret_len = ds.shm_segsz;
	return p;
}

static void put_coverage(struct afl *a, const struct fuzz_result *r)
{
	uint32_t size;
	const uint8_t *cov = fuzz__coverage(a->f, &size);

	if (cov) {
		memcpy(a->map, cov, size < a->map_len ? size : a->map_len);
		return;
	}
	/* The outcome and the guest's HC_FUZZ_DONE value: enough for afl-fuzz to run. */
	a->map[r->outcome % 8] = 1;
	if (r->outcome == FUZZ_DONE)
		a->map[8 + r->done_value % (OUTCOME_MAP_SIZE - 8)] = 1;
}

static void account(struct afl *a, const struct fuzz_result *r)
{
	a->sum.execs++;
	a->sum.crashes += r->outcome == FUZZ_CRASH;
	a->sum.kills += r->outcome == FUZZ_CANCELLED;
	a->sum.exits += r->outcome == FUZZ_EXIT;
	a->sum.dirtied += r->dirtied;
	a->sum.run_ns += r->run_ns;
	a->sum.reset_ns += r->reset_ns;
}

/* The test case afl-fuzz wrote: shared memory, else stdin (afl-fuzz's file without @@). */
static size_t test_case(struct afl *a, const uint8_t **ret)
{
	uint64_t max = fuzz__input_max(a->f);
	size_t len = 0;

	if (a->tc) {
		uint32_t n;

		memcpy(&n, a->tc, sizeof(n));
		*ret = a->tc + sizeof(n);
		len = n < AFL_MAX_FILE ? n : AFL_MAX_FILE;
	} else {
		ssize_t n;

		while ((n = pread(STDIN_FILENO, a->buf + len, AFL_MAX_FILE - len, (off_t)len)) > 0)
			len += (size_t)n;
		*ret = a->buf;
	}
	return len < max ? len : (size_t)max; /* what the guest's buffer holds */
}

/* (Re)arm the stand-in for the next run; @was_killed: afl-fuzz killed the last one. */
static int ready_child(struct afl *a, uint32_t was_killed)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	/* Its SIGKILL may still be on its way: wait for it, or it would end this run. */
	if (was_killed && a->child.pid)
		afl_child__died(&a->child, 2000);
	if (a->child.pid && !afl_child__died(&a->child, 0))
		return 0;
	if (a->child.pid) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->child.pidfd, NULL);
		afl_child__reap(&a->child);
	}
	err = afl_child__spawn(&a->child);
	if (!err && epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->child.pidfd, &ev))
		err = -errno;
	return err;
}

static void write_stats(struct afl *a, double t0)
{
	FILE *f;

	if (!a->cfg->stats_path)
		return;
	a->sum.secs = clock_now_s() - t0;
	f = fopen(a->cfg->stats_path, "we");
	if (f) {
		afl__print_summary(f, &a->sum);
		fclose(f);
	}
}

/* One run afl-fuzz asked for: pid, run, map, status, reset. */
static int serve_one(struct afl *a, uint32_t was_killed)
{
	struct fuzz_result r;
	const uint8_t *in;
	size_t len;
	int status, err;

	err = ready_child(a, was_killed);
	if (err)
		return err;
	len = test_case(a, &in);
	err = afl_fsrv__send(&a->fsrv, (uint32_t)a->child.pid);
	if (!err)
		err = fuzz__exec(a->f, in, len, RUN_FOREVER_MS, &r);
	if (err)
		return err;
	if (r.outcome == FUZZ_CANCELLED) {
		if (!afl_child__died(&a->child, 0))
			return -EPIPE; /* not the stand-in: afl-fuzz's pipe hung up */
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->child.pidfd, NULL);
		status = afl_child__reap(&a->child);
	} else {
		status = afl__wait_status(&r);
	}
	put_coverage(a, &r);
	err = afl_fsrv__send(&a->fsrv, (uint32_t)status);
	if (!err)
		err = fuzz__reset(a->f, &r);
	if (!err)
		account(a, &r);
	return err;
}

static int setup(struct afl *a, char *msg, size_t len)
{
	size_t shm_len = 0;
	void *map = attach(AFL_SHM_ENV_VAR, &a->map_len);
	void *tc = attach(AFL_SHM_FUZZ_ENV_VAR, &shm_len);
	uint32_t cov;
	int err;

	if (map == MAP_FAILED || tc == MAP_FAILED) {
		snprintf(msg, len, "attaching afl-fuzz's shared memory (%s): %s",
			 map == MAP_FAILED ? AFL_SHM_ENV_VAR : AFL_SHM_FUZZ_ENV_VAR, strerror(errno));
		afl_fsrv__error(&a->fsrv, AFL_FS_ERROR_SHMAT);
		return -EIO;
	}
	if (tc && shm_len < sizeof(uint32_t) + AFL_MAX_FILE) {
		snprintf(msg, len, "afl-fuzz's test case memory is too small (%zu bytes)", shm_len);
		return -EINVAL;
	}
	a->map = map ? map : a->map_own;
	if (!map)
		a->map_len = sizeof(a->map_own);
	a->tc = tc;
	a->buf = tc ? NULL : malloc(AFL_MAX_FILE);
	if (!tc && !a->buf)
		return -ENOMEM;
	err = fuzz__create(&a->cfg->fuzz, &a->f, msg, len);
	if (err)
		return err;
	fuzz__coverage(a->f, &cov);
	a->map_size = cov ? cov : OUTCOME_MAP_SIZE;
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN};

	/* afl-fuzz writes nothing during a run: readable means it hung up. */
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->fsrv.ctl_fd, &ev))
		return -errno;
	fuzz__set_cancel_fd(a->f, a->epfd);
	return 0;
}

static void teardown(struct afl *a)
{
	afl_child__reap(&a->child);
	fuzz__destroy(a->f);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->map && a->map != a->map_own)
		shmdt(a->map);
	if (a->tc)
		shmdt(a->tc);
	free(a->buf);
}

static void catch_term(void)
{
	struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: read() returns */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);  /* afl-fuzz gone: EPIPE, not death */
	signal(SIGCHLD, SIG_DFL);  /* the stand-in is reaped by waitpid */
}

int afl__serve(const struct afl_config *cfg, struct afl_summary *ret_summary, char *ret_msg,
	       size_t msg_len)
{
	struct afl a = {.cfg = cfg, .fsrv = {AFL_FORKSRV_FD, AFL_FORKSRV_FD + 1},
			.child = {.pidfd = -1}, .epfd = -1};
	sigset_t term, old;
	bool shm_fuzz = false;
	double t0;
	int err;

	ret_msg[0] = '\0';
	catch_term();
	/* Only this thread takes SIGTERM: the vCPU threads start with it blocked. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	err = setup(&a, ret_msg, msg_len);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		err = afl_fsrv__hello(&a.fsrv, a.map_size, a.tc != NULL, &shm_fuzz);
	if (!err && a.tc && !shm_fuzz) {
		/* afl-fuzz declined: it writes the file it gave us as stdin. */
		shmdt(a.tc);
		a.tc = NULL;
		a.buf = malloc(AFL_MAX_FILE);
		err = a.buf ? 0 : -ENOMEM;
	}
	if (err && !ret_msg[0])
		snprintf(ret_msg, msg_len, "the fork-server handshake: %s", strerror(-err));
	t0 = clock_now_s();
	double last = t0;

	while (!err && !quit) {
		uint32_t was_killed;

		if (clock_now_s() - last >= 1) {
			write_stats(&a, t0);
			last = clock_now_s();
		}

		err = afl_fsrv__next(&a.fsrv, &was_killed);
		if (err == -EINTR) { /* SIGTERM (the loop ends) or another signal */
			err = 0;
			continue;
		}
		if (!err)
			err = serve_one(&a, was_killed);
		if (err == -EPIPE) { /* afl-fuzz quit */
			err = 0;
			break;
		}
		if (err)
			snprintf(ret_msg, msg_len, "run %llu: %s",
				 (unsigned long long)a.sum.execs + 1, strerror(-err));
	}
	write_stats(&a, t0);
	teardown(&a);
	if (ret_summary)
		*ret_summary = a.sum;
	return err;
}

int afl__run_once(const struct afl_config *cfg, int input_fd, struct fuzz_result *ret_result,
		  char *ret_msg, size_t msg_len)
{
	struct afl a = {.cfg = cfg, .child = {.pidfd = -1}, .epfd = -1};
	struct fuzz_result r;
	const uint8_t *in;
	size_t len = 0;
	ssize_t n;
	int err;

	ret_msg[0] = '\0';
	/* Run by an AFL++ tool without its fork server (afl-showmap on one file)? */
	a.map = attach(AFL_SHM_ENV_VAR, &a.map_len);
	if (a.map == MAP_FAILED) {
		snprintf(ret_msg, msg_len, "attaching afl-fuzz's map (%s): %s", AFL_SHM_ENV_VAR,
			 strerror(errno));
		return -EIO;
	}
	if (!a.map) {
		a.map = a.map_own;
		a.map_len = sizeof(a.map_own);
	}
	a.buf = malloc(AFL_MAX_FILE);
	if (!a.buf)
		return -ENOMEM;
	while ((n = read(input_fd, a.buf + len, AFL_MAX_FILE - len)) > 0)
		len += (size_t)n;
	err = fuzz__create(&cfg->fuzz, &a.f, ret_msg, msg_len);
	if (!err) {
		uint64_t max = fuzz__input_max(a.f);

		in = a.buf;
		err = fuzz__exec(a.f, in, len < max ? len : (size_t)max,
				 cfg->timeout_ms > 0 ? cfg->timeout_ms : 1000, &r);
	}
	if (!err && a.map != a.map_own)
		put_coverage(&a, &r);
	if (!err && cfg->map_out) {
		uint32_t size;
		const uint8_t *cov = fuzz__coverage(a.f, &size);
		FILE *out = fopen(cfg->map_out, "we");

		if (!cov) {
			put_coverage(&a, &r);
			cov = a.map;
			size = OUTCOME_MAP_SIZE;
		}
		if (!out || fwrite(cov, 1, size, out) != size)
			err = -errno;
		if (out && fclose(out) && !err)
			err = -errno;
		if (err)
			snprintf(ret_msg, msg_len, "--map '%s': %s", cfg->map_out, strerror(-err));
	}
	if (!err)
		*ret_result = r;
	else if (!ret_msg[0])
		snprintf(ret_msg, msg_len, "running the test case: %s", strerror(-err));
	fuzz__destroy(a.f);
	free(a.buf);
	if (a.map != a.map_own)
		shmdt(a.map);
	return err;
}

void afl__print_summary(FILE *out, const struct afl_summary *s)
{
	double busy = (double)(s->run_ns + s->reset_ns);

	fprintf(out, "afl: %llu runs in %.3f s: %.0f execs/s; resets %.0f/s of reset time "
		"(mean %.1f us), mean dirtied pages %.1f; time in guest runs %.0f%%, in resets "
		"%.0f%%; crashes %llu, killed (afl-fuzz's timeout) %llu, exits %llu\n",
		(unsigned long long)s->execs, s->secs, s->secs > 0 ? s->execs / s->secs : 0,
		s->reset_ns ? s->execs / (s->reset_ns / 1e9) : 0,
		s->execs ? s->reset_ns / 1e3 / s->execs : 0,
		s->execs ? (double)s->dirtied / s->execs : 0,
		busy > 0 ? 100 * s->run_ns / busy : 0, busy > 0 ? 100 * s->reset_ns / busy : 0,
		(unsigned long long)s->crashes, (unsigned long long)s->kills,
		(unsigned long long)s->exits);
}
