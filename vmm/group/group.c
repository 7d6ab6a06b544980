// SPDX-License-Identifier: MIT
/*
 * group.c: the VMs of one `vmm run` and their controlling loop (group.h).
 *
 * vmm/group owns the VMs of a run, their control loop, and the control
 * socket's request handler (group__handle_request). It may call vmm/vm,
 * vmm/snapshot, vmm/api (JSON) and mm. Public: group.h, exit-status.h.
 *
 * Invariants:
 * - g->lock is held by whoever touches the member list or operates a VM:
 *   the loop while it serves a stop, a control request while it runs.
 * - A member is "ended" once its VM stopped for good (not a request); an
 *   ended resettable clone may be reset, and then runs again.
 * - A VM the user paused (pause request) stays paused across requests the
 *   loop serves for it: the loop resumes only VMs nobody paused.
 * - Every VM signals g->efd when it stops, so the loop never sleeps through
 *   a stop: it scans after each wakeup and before each sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "abi.h"
#include "clock.h"
#include "exit-status.h"
#include "group.h"
#include "snapshot.h"
#include "vm-state.h"

#define MAX_VMS 1025

struct member {
	struct vm *vm;
	unsigned id;
	int serial_fd;		  /* owned if != the group's */
	bool started, ended, user_paused;
	struct vm_stop stop;	  /* how it ended */
	struct vm_state *reset_state; /* resettable clones: the clone point */
};

struct group {
	struct group_config cfg;
	struct vm_pool *vm_pool;	/* NULL: clones make their KVM VMs on demand */
	pthread_mutex_t lock;
	int efd;
	bool quit;
	bool snapshot_failed; /* a guest's HC_SNAPSHOT did not produce its file */
	uint64_t warned_ns;   /* when warn() last printed: a guest can trigger it */
	unsigned n;
	struct member *m[MAX_VMS];
};

int group__create(const struct group_config *cfg, struct vm *root, struct group **ret_group)
{
	struct group *g = calloc(1, sizeof(*g));
	struct member *m = calloc(1, sizeof(*m));

	if (!g || !m) {
		free(g);
		free(m);
		return -ENOMEM;
	}
	g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->efd < 0) {
		int err = -errno;

		free(g);
		free(m);
		return err;
	}
	g->cfg = *cfg;
	if (cfg->vm_pool) {
		/* Lazy: a run that never clones makes (and closes) no VM for it. */
		struct vm_pool_config pc = {.size = cfg->vm_pool, .nr_cpus = vm__nr_cpus(root),
					    .lazy = true, .fail_next = cfg->vm_pool_fail_next};
		int err = vm_pool__create(&pc, &g->vm_pool);

		if (err) {
			close(g->efd);
			free(g);
			free(m);
			return err;
		}
	}
	pthread_mutex_init(&g->lock, NULL);
	m->vm = root;
	m->serial_fd = cfg->serial_fd;
	g->m[g->n++] = m;
	vm__set_notify_fd(root, g->efd);
	*ret_group = g;
	return 0;
}

static void member_free(struct group *g, struct member *m)
{
	vm__destroy(m->vm);
	if (m->serial_fd >= 0 && m->serial_fd != g->cfg.serial_fd)
		close(m->serial_fd);
	vm_state__free(m->reset_state);
	free(m);
}

void group__destroy(struct group *g)
{
	if (!g)
		return;
	vm_pool__destroy(g->vm_pool);
	/* Clones first: the capture a clone came from needs its parent. */
	for (unsigned i = g->n; i-- > 0;)
		member_free(g, g->m[i]);
	/* Their KVM fds close in parallel on the reaper's threads, not at exit one by one. */
	vm__reap_wait();
	close(g->efd);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static struct member *find(struct group *g, unsigned id)
{
	return id < g->n ? g->m[id] : NULL;
}

/* A line on stderr about something a guest made happen: at most one a second. Under g->lock. */
__attribute__((format(printf, 2, 3))) static void group_warn(struct group *g, const char *fmt, ...)
{
	uint64_t now = clock_now_ns();
	va_list ap;

	if (g->warned_ns && now - g->warned_ns < 1000000000ULL)
		return;
	g->warned_ns = now;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* A clone's console: FILE.N, or the group's with each line tagged. */
static int clone_console(struct group *g, unsigned id, struct vm_clone_config *cc, char *tag,
			 size_t tag_len)
{
	char path[4096];
	int err;

	cc->serial_fd = g->cfg.serial_fd;
	cc->tag = NULL;
	if (!g->cfg.clone_serial) {
		snprintf(tag, tag_len, "[clone %u] ", id);
		cc->tag = tag;
		return 0;
	}
	snprintf(path, sizeof(path), "%s.%u", g->cfg.clone_serial, id);
	cc->serial_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (cc->serial_fd >= 0)
		return 0;
	err = -errno;
	group_warn(g, "vmm: clone %u: --clone-serial '%s': %s\n", id, path, strerror(-err));
	return err;
}

/* Build clone @i of @cap as member g->n; not started. Under g->lock. */
static int spawn(struct group *g, struct vm_capture *cap, unsigned i, unsigned mm_flags,
		 struct member **ret_m)
{
	struct vm_clone_config cc = {.mm_flags = mm_flags, .vm_pool = g->vm_pool};
	struct member *m = NULL;
	char tag[32];
	int err;

	if (g->n >= MAX_VMS)
		return -EMFILE;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->id = g->n;
	err = clone_console(g, m->id, &cc, tag, sizeof(tag));
	if (!err)
		err = vm__capture_spawn(cap, i, &cc, &m->vm);
	m->serial_fd = cc.serial_fd;
	if (!err && (mm_flags & MM_CLONE_RESETTABLE))
		err = vm__save_state(m->vm, &m->reset_state);
	if (err) {
		member_free(g, m);
		return err;
	}
	g->m[g->n++] = m;
	*ret_m = m;
	return 0;
}

/* The pool could not make a VM ahead: said once a failure; clones make their own. */
static void report_pool_error(struct group *g)
{
	int err = vm_pool__take_error(g->vm_pool);

	if (err)
		group_warn(g, "vmm: VM pool: creating a KVM VM ahead of clones failed: %s; clones "
			   "create their VMs when made until it succeeds\n", strerror(-err));
}

/* Build @count clones of @pm as members [*ret_first, *ret_first + count). */
static int clone_locked(struct group *g, struct member *pm, unsigned count, unsigned mm_flags,
			unsigned *ret_first, struct group_clone_times *t)
{
	struct vm_capture *cap;
	int err;

	if (!count)
		return -EINVAL;
	if (count > MAX_VMS - g->n)
		return -EMFILE; /* the VM limit */
	err = vm__capture(pm->vm, count, mm_flags, &cap, &t->pause_ns);
	if (err)
		return err;
	*ret_first = g->n;
	for (unsigned i = 0; i < count && !err; i++) {
		struct member *m;

		err = spawn(g, cap, i, mm_flags, &m);
	}
	vm_capture__free(cap);
	report_pool_error(g);
	return err;
}

static int start_member(struct member *m)
{
	int err = m->started ? 0 : vm__start(m->vm);

	m->started = !err;
	return err;
}

/* Start members [first, g->n): 0 or the first error. */
static int start_from(struct group *g, unsigned first)
{
	int err = 0;

	for (unsigned i = first; i < g->n; i++) {
		int e = start_member(g->m[i]);

		err = err ? err : e;
	}
	return err;
}

static void report_clones(struct group *g, unsigned parent, unsigned first, unsigned count,
			  const struct group_clone_times *t)
{
	if (!g->cfg.verbose)
		return;
	if (count == 1)
		fprintf(stderr, "vmm: clone %u of VM %u", first, parent);
	else
		fprintf(stderr, "vmm: clones %u-%u of VM %u", first, first + count - 1, parent);
	fprintf(stderr, ": parent paused %.3f ms; running %.3f ms after the pause\n",
		(double)t->pause_ns / 1e6, (double)t->latency_ns / 1e6);
}

int group__clone(struct group *g, unsigned id, unsigned count, unsigned mm_flags,
		 unsigned *ret_ids, struct group_clone_times *ret_times)
{
	struct group_clone_times t = {0};
	uint64_t t0 = clock_now_ns();
	struct member *pm;
	unsigned first = 0;
	int err = -ENOENT;

	pthread_mutex_lock(&g->lock);
	pm = find(g, id);
	vm_pool__hold(g->vm_pool); /* no VM made beside the clones: it slows them */
	if (pm && (g->quit || pm->ended))
		err = -ESHUTDOWN; /* nothing left to clone: it stopped for good */
	else if (pm)
		err = clone_locked(g, pm, count, mm_flags, &first, &t);
	if (!err)
		err = start_from(g, first);
	t.latency_ns = clock_now_ns() - t0;
	vm_pool__release(g->vm_pool);
	if (!err) {
		report_clones(g, id, first, count, &t);
		for (unsigned i = 0; ret_ids && i < count; i++)
			ret_ids[i] = first + i;
	}
	pthread_mutex_unlock(&g->lock);
	if (!err && ret_times)
		*ret_times = t;
	return err;
}

/* HC_CLONE from the guest of @pm: one clone, told its number. */
static int64_t serve_clone(struct group *g, struct member *pm, unsigned cpu)
{
	struct group_clone_times t = {0};
	uint64_t t0 = clock_now_ns();
	unsigned first;
	int err;

	vm_pool__hold(g->vm_pool); /* no VM made beside the clone: it slows it */
	err = clone_locked(g, pm, 1, 0, &first, &t);
	if (!err)
		err = vm__set_hcall_result(g->m[first]->vm, cpu, (int64_t)(HC_CLONE_CHILD | first));
	if (!err)
		err = start_member(g->m[first]);
	vm_pool__release(g->vm_pool);
	if (err == -EMFILE)
		group_warn(g, "vmm: VM %u: clone refused: VM limit %u reached\n", pm->id, MAX_VMS);
	else if (err)
		group_warn(g, "vmm: VM %u: clone failed: %s\n", pm->id, strerror(-err));
	if (err)
		return err;
	t.latency_ns = clock_now_ns() - t0;
	report_clones(g, pm->id, first, 1, &t);
	return first;
}

/*
 * Live snapshot of @m (paused) to @path: capture, let it run unless the user
 * paused it (with its hypercall's result set to 0 first, for HC_SNAPSHOT),
 * then save memory while it runs.
 */
static int snapshot_member(struct member *m, const char *path, bool hcall,
			   struct vm_snapshot_stats *st, char *msg, size_t msg_len, bool *ret_went_on)
{
	struct vm_snapshot *s;
	int err;

	*ret_went_on = false;
	/* Before the capture: the snapshot's vCPU state has the call returning 0. */
	if (hcall) {
		err = vm__set_hcall_result(m->vm, m->stop.cpu, 0);
		if (err) {
			snprintf(msg, msg_len, "setting the hypercall result: %s", strerror(-err));
			return err;
		}
	}
	err = vm__snapshot_begin(m->vm, path, &s, msg, msg_len);
	if (err)
		return err; /* the caller sets the result it will see instead */
	if (hcall)
		vm__rearm(m->vm);
	if (!m->user_paused)
		vm__resume(m->vm);
	*ret_went_on = true;
	return vm_snapshot__finish(s, st, msg, msg_len);
}

static void report_snapshot(struct group *g, struct member *m, const char *path,
			    const struct vm_snapshot_stats *st)
{
	if (g->cfg.verbose)
		fprintf(stderr, "vmm: VM %u: snapshot to %s: paused %.3f ms, saved %llu MiB in "
			"%.1f ms\n", m->id, path, (double)st->pause_ns / 1e6,
			(unsigned long long)(st->mem_bytes >> 20), (double)st->save_ns / 1e6);
}

/*
 * HC_SNAPSHOT: true if served (the VM runs again), else false with the
 * guest's result in @ret_err: -ENOSYS without --snapshot-to, or why the
 * snapshot could not start (-ENOENT, -ENOSPC...). A save that fails after the
 * guest went on is reported here and in vmm run's exit status.
 */
static bool serve_snapshot(struct group *g, struct member *m, int64_t *ret_err)
{
	struct vm_snapshot_stats st;
	char msg[300];
	bool went_on;
	int err;

	*ret_err = -ENOSYS;
	if (!g->cfg.snapshot_to)
		return false;
	err = snapshot_member(m, g->cfg.snapshot_to, true, &st, msg, sizeof(msg), &went_on);
	if (err) {
		fprintf(stderr, "vmm: VM %u: snapshot failed: %s\n", m->id, msg);
		g->snapshot_failed = true;
		*ret_err = err;
	} else {
		report_snapshot(g, m, g->cfg.snapshot_to, &st);
	}
	return went_on;
}

static int group_snapshot_request(struct group *g, struct member *m, const char *path,
				  struct json_out *o)
{
	struct vm_snapshot_stats st;
	char msg[300];
	bool went_on;
	int err;

	if (!path || !path[0])
		return json_out__error(o, "snapshot: \"path\" (a file name) is required");
	if (m->ended)
		return json_out__error(o, "VM %u has ended", m->id);
	vm__pause(m->vm);
	err = snapshot_member(m, path, false, &st, msg, sizeof(msg), &went_on);
	if (err) {
		if (!went_on && !m->user_paused)
			vm__resume(m->vm);
		return json_out__error(o, "%s", msg);
	}
	report_snapshot(g, m, path, &st);
	json_out__u64(o, "vm", m->id);
	json_out__str(o, "path", path);
	json_out__double(o, "pause_ms", (double)st.pause_ns / 1e6);
	json_out__double(o, "save_ms", (double)st.save_ns / 1e6);
	json_out__u64(o, "mem_bytes", st.mem_bytes);
	json_out__double(o, "mib_per_s", st.save_ns ? (double)st.mem_bytes / 1048576.0 /
			 ((double)st.save_ns / 1e9) : 0);
	return 0;
}

/* A guest request: serve it, set its result, let the VM go on. */
static void serve_request(struct group *g, struct member *m)
{
	const struct vm_stop *s = &m->stop;
	int64_t ret = -ENOSYS;
	int err;

	vm__pause(m->vm);
	switch (s->req.nr) {
	case HC_FUZZ_DONE:
		ret = 0;
		break;
	case HC_CLONE:
		ret = serve_clone(g, m, s->cpu);
		break;
	case HC_SNAPSHOT:
		if (serve_snapshot(g, m, &ret))
			return;
		break;
	}
	err = vm__set_hcall_result(m->vm, s->cpu, ret);
	if (err) {
		fprintf(stderr, "vmm: VM %u: setting a hypercall result: %s\n", m->id,
			strerror(-err));
		m->ended = true;
		return;
	}
	vm__rearm(m->vm);
	if (!m->user_paused)
		vm__resume(m->vm);
}

/* Serve every VM that stopped; true when all have ended. Under g->lock. */
static bool scan(struct group *g)
{
	bool all_ended = true;

	for (unsigned i = 0; i < g->n; i++) {
		struct member *m = g->m[i];

		if (!m->ended && m->started && !vm__wait(m->vm, 0, &m->stop)) {
			if (m->stop.reason == VM_STOP_REQUEST && !g->quit)
				serve_request(g, m);
			else
				m->ended = true;
		}
		all_ended &= m->ended || !m->started;
	}
	return all_ended;
}

static void stop_all(struct group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		vm__stop(g->m[i]->vm);
}

void group__quit(struct group *g)
{
	pthread_mutex_lock(&g->lock);
	g->quit = true;
	stop_all(g);
	pthread_mutex_unlock(&g->lock);
}

static int stop_status(const struct member *m, bool quiet)
{
	const struct vm_stop *s = &m->stop;
	FILE *out = quiet ? NULL : stderr;

	switch (s->reason) {
	case VM_STOP_EXIT:
		if (s->status >= 0 && s->status <= ABI_EXIT_STATUS_MAX)
			return s->status;
		if (out)
			fprintf(out, "vmm: guest exit status %u is above %d\n", (unsigned)s->status,
				ABI_EXIT_STATUS_MAX);
		return VMM_EXIT_BAD_STATUS;
	case VM_STOP_REQUESTED:
		return 0; /* quit */
	case VM_STOP_RESET:
		return VMM_EXIT_REBOOT; /* the guest's own choice: nothing to report */
	default:
		if (out)
			vm__print_stop(out, s);
		return s->reason == VM_STOP_CRASH ? VMM_EXIT_CRASH :
		       s->reason == VM_STOP_TRIPLE_FAULT ? VMM_EXIT_TRIPLE_FAULT :
		       s->reason == VM_STOP_UNHANDLED ? VMM_EXIT_UNHANDLED :
		       s->reason == VM_STOP_ALL_PARKED ? VMM_EXIT_PARKED : EXIT_FAILED;
	}
}

/* VM 0's status, or the first failing clone's; clones that failed are named. */
static int group_status(struct group *g)
{
	int status = stop_status(g->m[0], false);

	for (unsigned i = 1; i < g->n; i++) {
		struct member *m = g->m[i];
		int st;

		if (!m->started)
			continue;
		if (m->stop.reason == VM_STOP_EXIT && m->stop.status == 0) {
			if (g->cfg.verbose)
				fprintf(stderr, "vmm: clone %u: guest exited with status 0\n", i);
			continue;
		}
		fprintf(stderr, "vmm: clone %u: ", i);
		st = stop_status(m, true);
		fprintf(stderr, "%s\n", m->stop.what);
		if (!status)
			status = st;
	}
	return status;
}

int group__run(struct group *g, int timeout_ms, int *ret_status)
{
	uint64_t deadline = timeout_ms >= 0 ? clock_now_ns() + (uint64_t)timeout_ms * 1000000ULL : 0;
	bool timed_out = false, done;
	int err;

	pthread_mutex_lock(&g->lock);
	err = start_member(g->m[0]);
	pthread_mutex_unlock(&g->lock);
	if (err)
		return err;
	for (;;) {
		struct pollfd p = {.fd = g->efd, .events = POLLIN};
		int wait_ms = -1;
		uint64_t v;

		pthread_mutex_lock(&g->lock);
		done = scan(g);
		pthread_mutex_unlock(&g->lock);
		if (done)
			break;
		if (deadline) {
			uint64_t now = clock_now_ns();

			if (now >= deadline && !timed_out) {
				timed_out = true;
				group__quit(g);
				continue;
			}
			wait_ms = now >= deadline ? 10 : (int)((deadline - now + 999999) / 1000000);
		}
		if (poll(&p, 1, wait_ms) > 0 && read(g->efd, &v, sizeof(v)) < 0)
			(void)0; /* EAGAIN: another reader emptied it */
	}
	/* No vCPU of any VM is left inside a device handler: devices may go. */
	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < g->n; i++)
		vm__pause(g->m[i]->vm);
	pthread_mutex_unlock(&g->lock);
	if (timed_out) {
		*ret_status = VMM_EXIT_TIMEOUT;
		return 0;
	}
	*ret_status = group_status(g);
	if (g->snapshot_failed && !*ret_status) {
		fprintf(stderr, "vmm: a snapshot the guest asked for was not saved\n");
		*ret_status = EXIT_FAILED;
	}
	return 0;
}

struct vm_pool *group__vm_pool(struct group *g)
{
	return g->vm_pool;
}

unsigned group__nr_vms(struct group *g)
{
	unsigned n;

	pthread_mutex_lock(&g->lock);
	n = g->n;
	pthread_mutex_unlock(&g->lock);
	return n;
}

struct vm *group__vm(struct group *g, unsigned id)
{
	struct member *m = NULL;

	pthread_mutex_lock(&g->lock);
	m = find(g, id);
	pthread_mutex_unlock(&g->lock);
	return m ? m->vm : NULL;
}

/* Control requests ------------------------------------------------------ */

/* Reject keys a request does not take; @keys is NULL-terminated. */
static int check_keys(const struct json_obj *req, const char *const *keys, struct json_out *o)
{
	for (unsigned i = 0; i < json__nr_keys(req); i++) {
		const char *k = json__key(req, i);
		bool known = !strcmp(k, "cmd");

		for (unsigned j = 0; keys[j] && !known; j++)
			known = !strcmp(k, keys[j]);
		if (!known)
			return json_out__error(o, "%s: unknown key \"%s\"", json__get_str(req, "cmd"),
					       k);
	}
	return 0;
}

/* The "vm" key (default 0) names an existing VM. Under g->lock. */
static int req_member(struct group *g, const struct json_obj *req, struct json_out *o,
		      struct member **ret_m)
{
	uint64_t id = 0;
	int err = json__get_u64(req, "vm", &id);

	if (err == -EINVAL)
		return json_out__error(o, "\"vm\" must be a VM number");
	if (id >= g->n)
		return json_out__error(o, "no VM %llu (there are %u)", (unsigned long long)id, g->n);
	*ret_m = g->m[id];
	return 0;
}

static int req_pause(struct group *g, struct member *m, bool pause, struct json_out *o)
{
	uint64_t t0 = clock_now_ns();

	if (m->ended)
		return json_out__error(o, "VM %u has ended", m->id);
	m->user_paused = pause;
	if (pause)
		vm__pause(m->vm);
	else
		vm__resume(m->vm);
	json_out__u64(o, "vm", m->id);
	json_out__double(o, pause ? "pause_ms" : "resume_ms", (double)(clock_now_ns() - t0) / 1e6);
	return 0;
}

static int req_clone(struct group *g, const struct json_obj *req, struct json_out *o)
{
	static const char *const keys[] = {"vm", "count", "resettable", NULL};
	struct group_clone_times t;
	unsigned ids[64];
	uint64_t id = 0, count = 1;
	bool resettable = false;
	char list[64 * 6 + 3];
	size_t n = 0;
	int err;

	err = check_keys(req, keys, o);
	if (err)
		return err;
	if (json__get_u64(req, "vm", &id) == -EINVAL)
		return json_out__error(o, "\"vm\" must be a VM number");
	if (json__get_u64(req, "count", &count) == -EINVAL || !count || count > 64)
		return json_out__error(o, "\"count\" must be from 1 to 64");
	if (json__get_bool(req, "resettable", &resettable) == -EINVAL)
		return json_out__error(o, "\"resettable\" must be true or false");
	if (id > MAX_VMS)
		return json_out__error(o, "no VM %llu", (unsigned long long)id);
	err = group__clone(g, (unsigned)id, (unsigned)count,
			   resettable ? MM_CLONE_RESETTABLE : 0, ids, &t);
	if (err == -ENOENT)
		return json_out__error(o, "no VM %llu", (unsigned long long)id);
	if (err == -ESHUTDOWN)
		return json_out__error(o, "VM %llu has ended", (unsigned long long)id);
	if (err == -EMFILE)
		return json_out__error(o, "VM limit %u reached (%u VMs now)", MAX_VMS,
				       group__nr_vms(g));
	if (err)
		return json_out__error(o, "clone of VM %llu failed: %s", (unsigned long long)id,
				       strerror(-err));
	list[n++] = '[';
	for (unsigned i = 0; i < count; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%u", i ? "," : "", ids[i]);
	snprintf(list + n, sizeof(list) - n, "]");
	json_out__raw(o, "ids", list);
	json_out__double(o, "pause_ms", (double)t.pause_ns / 1e6);
	json_out__double(o, "latency_ms", (double)t.latency_ns / 1e6);
	return 0;
}

/* Put a resettable clone back at its clone point; it runs again. */
static int req_reset(struct group *g, struct member *m, struct json_out *o)
{
	uint64_t t0 = clock_now_ns(), dirtied = 0;
	int err;

	if (!m->reset_state)
		return json_out__error(o, "VM %u is not a resettable clone (clone with "
				       "\"resettable\":true)", m->id);
	vm__pause(m->vm);
	err = mm_space_reset(vm__space(m->vm), MM_RESET_REFUSE_PINNED, &dirtied);
	if (err == -EBUSY)
		return json_out__error(o, "VM %u: a device holds a pin on a page the reset "
				       "would restore; unpin first", m->id);
	if (!err)
		err = vm__restore_state(m->vm, m->reset_state);
	if (err) {
		m->ended = true;
		vm__stop(m->vm);
		return json_out__error(o, "VM %u: reset failed (%s); the VM is stopped", m->id,
				       strerror(-err));
	}
	m->ended = false;
	vm__rearm(m->vm);
	if (!m->user_paused)
		vm__resume(m->vm);
	json_out__u64(o, "vm", m->id);
	json_out__u64(o, "dirtied_pages", dirtied);
	json_out__double(o, "reset_ms", (double)(clock_now_ns() - t0) / 1e6);
	return 0;
}

static void put_mm_stats(struct json_out *o, const struct mm_stats *s)
{
	json_out__u64(o, "faults", s->faults);
	json_out__u64(o, "reuses", s->reuses);
	json_out__u64(o, "copies", s->copies);
	json_out__u64(o, "unshares", s->unshare_copies + s->unshare_reuses);
	json_out__u64(o, "pins", s->pins);
	json_out__u64(o, "pinned_pages", s->pinned_pages);
	json_out__u64(o, "clone_pinned_copies", s->clone_pinned_copies);
	json_out__u64(o, "clones", s->clones);
	json_out__u64(o, "resets", s->resets);
	json_out__u64(o, "reset_pages", s->reset_pages);
	json_out__u64(o, "frames_in_use", s->frames_in_use);
	json_out__u64(o, "vmas", s->vmas);
	json_out__u64(o, "compactions", s->compactions);
	json_out__u64(o, "compact_copies", s->compact_copies);
}

static int req_stats(struct group *g, const struct json_obj *req, struct json_out *o)
{
	struct member *m = NULL;
	struct mm_stats ms;
	struct vm_stats vs;
	unsigned running = 0;

	if (json__has(req, "vm") && req_member(g, req, o, &m))
		return -EINVAL;
	for (unsigned i = 0; i < g->n; i++)
		running += g->m[i]->started && !g->m[i]->ended;
	json_out__u64(o, "vms", g->n);
	json_out__u64(o, "running", running);
	if (m) {
		vm__stats(m->vm, &vs);
		mm_space_stats(vm__space(m->vm), &ms);
		json_out__u64(o, "vm", m->id);
		json_out__str(o, "state", m->ended ? "ended" : m->user_paused ? "paused" :
			      m->started ? "running" : "created");
		json_out__double(o, "run_ms", (double)vs.run_ns / 1e6);
		json_out__u64(o, "exits_mmio", vs.exits[VM_EXITS_MMIO]);
		json_out__u64(o, "exits_hypercall", vs.exits[VM_EXITS_HCALL]);
		json_out__u64(o, "serial_bytes", vs.serial_bytes);
	} else {
		mm_pool_stats(vm__pool(g->m[0]->vm), &ms);
		json_out__u64(o, "host_bytes", ms.host_bytes);
	}
	put_mm_stats(o, &ms);
	return 0;
}

int group__handle_request(void *arg, const struct json_obj *req, struct json_out *o)
{
	static const char *const vm_key[] = {"vm", NULL}, *const snap_keys[] = {"vm", "path", NULL};
	struct group *g = arg;
	const char *cmd = json__get_str(req, "cmd");
	struct member *m = NULL;
	int err;

	if (!strcmp(cmd, "clone"))
		return req_clone(g, req, o);
	if (!strcmp(cmd, "quit")) {
		group__quit(g);
		return 0;
	}
	if (strcmp(cmd, "pause") && strcmp(cmd, "resume") && strcmp(cmd, "reset") &&
	    strcmp(cmd, "stats") && strcmp(cmd, "snapshot"))
		return json_out__error(o, "unknown command \"%s\" (pause, resume, clone, "
				       "snapshot, reset, stats, quit)", cmd);
	err = check_keys(req, strcmp(cmd, "snapshot") ? vm_key : snap_keys, o);
	if (err)
		return err;
	pthread_mutex_lock(&g->lock);
	if (!strcmp(cmd, "stats"))
		err = req_stats(g, req, o);
	else
		err = req_member(g, req, o, &m);
	if (err || !strcmp(cmd, "stats"))
		goto out;
	if (g->quit && strcmp(cmd, "pause")) {
		/* Every VM is stopping for good: nothing may run one again. */
		err = json_out__error(o, "%s: the VMM is quitting (after \"quit\")", cmd);
		goto out;
	}
	if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume"))
		err = req_pause(g, m, !strcmp(cmd, "pause"), o);
	else if (!strcmp(cmd, "reset"))
		err = req_reset(g, m, o);
	else
		err = group_snapshot_request(g, m, json__get_str(req, "path"), o);
out:
	pthread_mutex_unlock(&g->lock);
	return err;
}
