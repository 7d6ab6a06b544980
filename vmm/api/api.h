/* SPDX-License-Identifier: MIT */
/*
 * api: the control socket - JSON requests over a Unix stream socket, one
 * per line, served by one background thread. `vmm ctl` is its client.
 *
 * Protocol: a client sends lines ending in "\n" ("\r\n" too), each one JSON
 * object of at most JSON_MAX_LINE bytes with a string "cmd" (json.h says
 * what else is accepted; blank lines are skipped). It gets exactly one
 * reply line per request, in order:
 *
 *	{"ok":true,...the handler's fields...}
 *	{"ok":false,"error":"message"}
 *
 * "ok" always comes first, so a client may test the prefix {"ok":true. A
 * malformed, over-long or cmd-less request gets an error reply and the
 * connection stays usable. At most API_MAX_CLIENTS clients are connected;
 * one more gets an error line and is closed. A client that stops reading
 * is not read from either once API_OUT_HIGH bytes of replies wait for it;
 * other clients are served meanwhile. A client that disconnects, even
 * mid-line, is dropped silently.
 *
 * Threads: the handler runs on the server thread, one request at a time; it
 * must not call api__stop(). api__start() and api__stop() are called from
 * one controlling thread. The server thread blocks all signals.
 */
#ifndef VMM_API_H
#define VMM_API_H

#include "json.h"

#define API_MAX_CLIENTS 16
#define API_OUT_HIGH (64 * 1024)	/* unsent reply bytes that pause reading */
#define API_REPLY_MAX (1024 * 1024)	/* a longer reply becomes an error */

struct api;

/*
 * Handle one request: @req has a string "cmd" (json__get_str(req, "cmd")).
 * Return 0 after adding the reply's fields to @reply (never "ok" or
 * "error"), or a negative errno; the reply then says
 * json_out__error_msg(reply) if the handler set one with json_out__error(),
 * else strerror(-ret), and the fields are dropped. An unknown command:
 * `return json_out__error(reply, "unknown command \"%s\"", cmd);`.
 */
typedef int (*api_handler_fn)(void *arg, const struct json_obj *req, struct json_out *reply);

/*
 * Listen on a Unix socket at @path (mode 0600) and serve it from a new
 * thread. -EEXIST if a live socket or something that is not a socket is at
 * @path (neither is touched); a stale socket nobody listens on is replaced.
 * -ENAMETOOLONG if @path does not fit a sockaddr_un, else -errno.
 */
int api__start(const char *path, api_handler_fn fn, void *arg, struct api **ret_api)
	__attribute__((warn_unused_result));
/* Stop the thread, disconnect the clients, remove the socket. NULL is fine. */
void api__stop(struct api *api);

#endif
