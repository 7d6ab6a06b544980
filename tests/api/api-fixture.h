/* SPDX-License-Identifier: MIT */
/*
 * api-fixture: what test-api and test-ctl share - a control socket served
 * by a test handler in a fresh temporary directory, a record of the
 * requests it saw, and raw client connections that read replies by line.
 *
 * The test handler's commands: echo (replies "cmd" and "x" if given),
 * pause (no fields), stats (a nested "stats" object), fail (-EINVAL with a
 * message), busy (-EBUSY, no message), sleep (300 ms), big (a "pad" of
 * BIG_PAD bytes; counted, not recorded); others: unknown command. Every
 * request but big is recorded, rebuilt as compact JSON.
 */
#ifndef TEST_API_FIXTURE_H
#define TEST_API_FIXTURE_H

#include <pthread.h>
#include <stddef.h>

#include "api.h"
#include "json.h"

#define BIG_PAD 20000

struct seen {
	pthread_mutex_t lock;
	unsigned n, big;
	char lines[32][512];
};
extern struct seen seen;

struct fixture {
	char dir[32];
	char path[64];		/* dir/ctl.sock, served by api */
	struct api *api;
};

int test_handler(void *arg, const struct json_obj *req, struct json_out *reply);
/* cmocka setup/teardown: *state is a struct fixture; teardown checks the socket is gone. */
int api_fixture_setup(void **state);
int api_fixture_teardown(void **state);
unsigned nr_seen(void);
void assert_seen(unsigned n, const char *const *want);

/* A client connection with a line buffer; reads time out after 10 s. */
struct conn {
	int fd;
	size_t len, skip;
	char buf[BIG_PAD + 4096];
};

struct conn *conn_open(const char *path);
void conn_close(struct conn *c);
void send_bytes(int fd, const char *s, size_t len);
void send_str(struct conn *c, const char *s);
/* The next line without its newline (valid until the next call), NULL at end of stream. */
char *conn_line(struct conn *c);
void expect(struct conn *c, const char *want);
/* Send {"cmd":"echo","x":X}, expect its reply. */
void expect_echo(struct conn *c, int x);

#endif
