// SPDX-License-Identifier: MIT
/*
 * test-afl-fsrv: the fork-server protocol of `vmm afl` against a scripted
 * afl-fuzz over pipes, the stand-in child and the wait statuses afl-fuzz
 * gets (no KVM). The words are checked against AFL++ 4.04c's own
 * encoding (include/types.h: FS_OPT_SET_MAPSIZE(x) = (x - 1) << 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "afl-child.h"
#include "afl-fsrv.h"
#include "afl.h"

struct pipes {
	struct afl_fsrv srv;	/* our side */
	int afl_ctl, afl_st;	/* afl-fuzz's side: it writes ctl, reads st */
};

static void open_pipes(struct pipes *p)
{
	int ctl[2], st[2];

	assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
	assert_int_equal(pipe2(st, O_CLOEXEC), 0);
	p->srv = (struct afl_fsrv){.ctl_fd = ctl[0], .st_fd = st[1]};
	p->afl_ctl = ctl[1];
	p->afl_st = st[0];
}

static void close_pipes(struct pipes *p)
{
	close(p->srv.ctl_fd);
	close(p->srv.st_fd);
	if (p->afl_ctl >= 0)
		close(p->afl_ctl);
	close(p->afl_st);
}

static uint32_t afl_read(struct pipes *p)
{
	uint32_t w;

	assert_int_equal(read(p->afl_st, &w, 4), 4);
	return w;
}

static void afl_write(struct pipes *p, uint32_t w)
{
	assert_int_equal(write(p->afl_ctl, &w, 4), 4);
}

static void test_hello_words(void **state)
{
	(void)state;
	/* afl-compiler-rt: FS_OPT_ENABLED | FS_OPT_MAPSIZE | FS_OPT_SET_MAPSIZE(8192). */
	assert_int_equal(afl_fsrv__hello_word(8192, false), 0x80000001u | 0x40000000u | 8191u << 1);
	assert_int_equal(afl_fsrv__hello_word(65536, true),
			 0x80000001u | 0x40000000u | 65535u << 1 | 0x01000000u);
	/* afl-fuzz reads the size back as ((x & 0x00fffffe) >> 1) + 1. */
	uint32_t w = afl_fsrv__hello_word(1u << 23, false);

	assert_int_equal(((w & 0x00fffffeu) >> 1) + 1, 1u << 23);
	/* Nothing to say: 0, and afl-fuzz answers nothing. */
	assert_int_equal(afl_fsrv__hello_word(0, false), 0);
	/* Never the workaround pattern 0x0f000000 that afl-fuzz masks off. */
	assert_int_not_equal(afl_fsrv__hello_word(4096, true) & 0x0f000000u, 0x0f000000u);
}

static void test_handshake_and_runs(void **state)
{
	struct pipes p;
	bool shm;
	uint32_t killed;

	(void)state;
	open_pipes(&p);
	/* afl-fuzz answers the shared-memory offer before it asks for a run. */
	afl_write(&p, 0x80000001u | 0x01000000u);
	assert_int_equal(afl_fsrv__hello(&p.srv, 8192, true, &shm), 0);
	assert_true(shm);
	assert_int_equal(afl_read(&p), afl_fsrv__hello_word(8192, true));
	afl_write(&p, 0);
	assert_int_equal(afl_fsrv__next(&p.srv, &killed), 0);
	assert_int_equal(killed, 0);
	assert_int_equal(afl_fsrv__send(&p.srv, 1234), 0);
	assert_int_equal(afl_fsrv__send(&p.srv, SIGSEGV), 0);
	assert_int_equal(afl_read(&p), 1234);
	assert_int_equal(afl_read(&p), SIGSEGV);
	afl_write(&p, 1); /* the last run timed out */
	assert_int_equal(afl_fsrv__next(&p.srv, &killed), 0);
	assert_int_equal(killed, 1);
	/* afl-fuzz quits: EOF. */
	close(p.afl_ctl);
	p.afl_ctl = -1;
	assert_int_equal(afl_fsrv__next(&p.srv, &killed), -EPIPE);
	close_pipes(&p);
}

static void test_shm_declined(void **state)
{
	struct pipes p;
	bool shm = true;

	(void)state;
	open_pipes(&p);
	afl_write(&p, 0x80000001u); /* afl-fuzz will not use shared memory */
	assert_int_equal(afl_fsrv__hello(&p.srv, 256, true, &shm), 0);
	assert_false(shm);
	close_pipes(&p);
}

static void test_stand_in_child(void **state)
{
	struct afl_child c = {.pidfd = -1};
	int status;

	(void)state;
	assert_int_equal(afl_child__spawn(&c), 0);
	assert_true(c.pid > 0);
	assert_false(afl_child__died(&c, 50));
	/* What afl-fuzz does on a timeout. */
	assert_int_equal(kill(c.pid, SIGKILL), 0);
	assert_true(afl_child__died(&c, 5000));
	status = afl_child__reap(&c);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(c.pid, 0);
	/* A live one is killed and reaped. */
	assert_int_equal(afl_child__spawn(&c), 0);
	status = afl_child__reap(&c);
	assert_true(WIFSIGNALED(status));
}

static void test_wait_status(void **state)
{
	struct fuzz_result r = {.outcome = FUZZ_DONE};

	(void)state;
	assert_int_equal(afl__wait_status(&r), 0);
	r = (struct fuzz_result){.outcome = FUZZ_EXIT,
				 .stop = {.reason = VM_STOP_EXIT, .status = 3}};
	assert_true(WIFEXITED(afl__wait_status(&r)));
	assert_int_equal(WEXITSTATUS(afl__wait_status(&r)), 3);
	r = (struct fuzz_result){.outcome = FUZZ_CRASH,
				 .stop = {.reason = VM_STOP_CRASH, .have_vector = true, .vector = 14}};
	assert_int_equal(WTERMSIG(afl__wait_status(&r)), SIGSEGV);
	r.stop.vector = 6;
	assert_int_equal(WTERMSIG(afl__wait_status(&r)), SIGILL);
	r.stop.vector = 0;
	assert_int_equal(WTERMSIG(afl__wait_status(&r)), SIGFPE);
	r.stop.signal = SIGABRT; /* a process guest's abort() */
	assert_int_equal(WTERMSIG(afl__wait_status(&r)), SIGABRT);
	r = (struct fuzz_result){.outcome = FUZZ_CRASH, .stop = {.reason = VM_STOP_UNHANDLED}};
	assert_int_equal(WTERMSIG(afl__wait_status(&r)), SIGBUS);
	r = (struct fuzz_result){.outcome = FUZZ_CRASH, .stop = {.reason = VM_STOP_TRIPLE_FAULT}};
	assert_true(WIFSIGNALED(afl__wait_status(&r)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_words),
		cmocka_unit_test(test_handshake_and_runs),
		cmocka_unit_test(test_shm_declined),
		cmocka_unit_test(test_stand_in_child),
		cmocka_unit_test(test_wait_status),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
