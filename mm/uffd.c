// SPDX-License-Identifier: MIT
/*
 * uffd.c: all of mm's userfaultfd code.
 *
 * Why userfaultfd write-protect: guest memory is a MAP_SHARED mapping of a
 * memfd, so the kernel's own COW (MAP_PRIVATE + fork) cannot share frames
 * between VMs in one process, and KVM must see one stable mapping per VM.
 * uffd-wp on shmem lets us write-protect any range of a space's mapping
 * (including holes: shmem installs a marker PTE), and hands us each write
 * fault - from a host thread or from KVM's own access on behalf of a vCPU -
 * as a message, while the faulting thread sleeps until we wake it. We then
 * decide reuse or copy (fault.c) and either clear the protection or map a
 * new frame at the address.
 *
 * How the handler never touches protected memory: the fault thread reads and
 * writes frames only through the pool's direct map (pool.c), a second
 * mapping of the memfd that is never registered with userfaultfd. Touching a
 * protected guest address from the handler would deadlock it on itself.
 *
 * Invariants: every page of every live space is registered with the pool's
 * uffd in write-protect mode (map.c re-registers each new mapping); every
 * write fault read is handed to the handler, never dropped (fault.c's
 * fault__handle leaves a writer it cannot serve asleep and reports it).
 *
 * Kernel versions. What mm needs, and what it does on a kernel without it
 * (probed once per process, uffd_probe_once; README "Host kernel"):
 *   - userfaultfd write-protect on shmem (UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
 *     5.19): required. Without it mm_pool_create fails with -EOPNOTSUPP.
 *   - /dev/userfaultfd (6.1): only where the syscall is refused
 *     (vm.unprivileged_userfaultfd=0 without CAP_SYS_PTRACE).
 *   - one UFFDIO_WRITEPROTECT over several VMAs (6.4, "mm/userfaultfd:
 *     support WP on multiple VMAs"): 6.1's mwriteprotect_range looks up one
 *     VMA and fails the call with -ENOENT otherwise. Fallback: map.c
 *     (map__protect) splits every call into runs of contiguous memfd
 *     offsets, each one VMA. uffd__wp_per_vma tells it to.
 *   - WP_UNPOPULATED (6.4), WP_ASYNC (6.7), UFFDIO_MOVE (6.8), UFFDIO_CONTINUE
 *     (5.13 shmem): not used. shmem keeps a write-protect marker on a hole
 *     without WP_UNPOPULATED (that flag is for anonymous memory); mm_probe_uffd
 *     reports them for `vmm doctor` only.
 * MM_UFFD_FALLBACK=1 in the environment forces every fallback on a kernel
 * that does not need it (read once per process): the tests run the suites
 * that way too, so the 6.1 paths are tested on a new kernel.
 *
 * Layer: the bottom, beside pool.c. Calls nothing else in mm: the fault
 * thread reaches the fault path only through the handler it was given
 * (mm_pool_create passes fault__handle), so there is no call cycle.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "uffd-compat.h"

#define SPIN_READS 200

static const struct mm_uffd_caps *uffd_probe_once(void);

struct mm_uffd {
	int fd;
	bool wp_per_vma; /* one UFFDIO_WRITEPROTECT may not span VMAs */
	int stop_fd; /* eventfd: tells the fault thread to exit */
	pthread_t thread;
	bool thread_started;
	uffd_handler_fn handler; /* gets each write fault's page address */
};

static int uffd_new(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0)
		return fd;
	/* Without CAP_SYS_PTRACE and vm.unprivileged_userfaultfd, try the device. */
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

	if (dev < 0)
		return -errno;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	fd = fd < 0 ? -errno : fd;
	close(dev);
	return fd;
}

static void *fault_thread(void *arg)
{
	struct mm_pool *pool = arg;
	struct mm_uffd *u = pool->uffd;
	struct uffd_msg msgs[64];

	for (;;) {
		struct pollfd pfd[2] = {{.fd = u->fd, .events = POLLIN},
					{.fd = u->stop_fd, .events = POLLIN}};
		ssize_t n = read(u->fd, msgs, sizeof(msgs));

		/*
		 * Faults come in bursts (a guest walking its memory): try the
		 * next one before sleeping. Waking this thread from another CPU
		 * costs ~40 us on a virtualized host, several times a fault.
		 */
		for (unsigned spin = 0; n < 0 && errno == EAGAIN && spin < SPIN_READS; spin++) {
			sched_yield();
			n = read(u->fd, msgs, sizeof(msgs));
		}
		if (n > 0)
			goto got;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		n = read(u->fd, msgs, sizeof(msgs));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
got:
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++) {
			if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			u->handler(pool, msgs[i].arg.pagefault.address & ~(MM_PAGE_SIZE - 1));
		}
	}
	return NULL;
}

int uffd__open(struct mm_pool *pool, uffd_handler_fn handler)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	};
	struct mm_uffd *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	u->wp_per_vma = uffd_probe_once()->wp_per_vma;
	u->stop_fd = -1;
	u->fd = uffd_new();
	if (u->fd < 0) {
		err = u->fd;
		goto err_free;
	}
	if (ioctl(u->fd, UFFDIO_API, &api) < 0) {
		/* EINVAL here means the kernel lacks uffd-wp on shmem. */
		err = errno == EINVAL ? -EOPNOTSUPP : -errno;
		goto err_close;
	}
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (u->stop_fd < 0) {
		err = -errno;
		goto err_close;
	}
	u->handler = handler;
	pool->uffd = u;
	err = -pthread_create(&u->thread, NULL, fault_thread, pool);
	if (err)
		goto err_close;
	u->thread_started = true;
	return 0;

err_close:
	pool->uffd = NULL;
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	close(u->fd);
err_free:
	free(u);
	return err;
}

void uffd__close(struct mm_pool *pool)
{
	struct mm_uffd *u = pool->uffd;
	uint64_t one = 1;

	if (!u)
		return;
	if (u->thread_started) {
		if (write(u->stop_fd, &one, sizeof(one)) != sizeof(one))
			MM_WARN_ON(1);
		pthread_join(u->thread, NULL);
	}
	close(u->stop_fd);
	close(u->fd);
	free(u);
	pool->uffd = NULL;
}

int uffd__register(struct mm_pool *pool, void *addr, uint64_t len)
{
	struct uffdio_register reg = {
		.range = {.start = (uintptr_t)addr, .len = len},
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(pool->uffd->fd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT)))
		return -EOPNOTSUPP;
	return 0;
}

/* Set or clear write protection; clearing wakes the threads waiting there. */
int uffd__protect(struct mm_pool *pool, void *addr, uint64_t len, bool wp)
{
	struct uffdio_writeprotect w = {
		.range = {.start = (uintptr_t)addr, .len = len},
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(pool->uffd->fd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
}

bool uffd__wp_per_vma(struct mm_pool *pool)
{
	return pool->uffd->wp_per_vma;
}

int uffd__wake(struct mm_pool *pool, void *addr, uint64_t len)
{
	struct uffdio_range r = {.start = (uintptr_t)addr, .len = len};

	return ioctl(pool->uffd->fd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

/* Two pages of a memfd mapped as two VMAs, registered and write-protected. */
static void probe_wp_shmem(int fd, struct mm_uffd_caps *caps)
{
	int memfd = memfd_create("vmm-uffd-probe", MFD_CLOEXEC);
	uint8_t *p = MAP_FAILED;

	caps->wp_shmem_err = caps->wp_multi_vma_err = -EOPNOTSUPP;
	if (memfd < 0 || ftruncate(memfd, 4 * MM_PAGE_SIZE) < 0)
		goto out;
	p = mmap(NULL, 2 * MM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	/* The second page maps offset 3: not contiguous, so a second VMA. */
	if (p == MAP_FAILED || mmap(p + MM_PAGE_SIZE, MM_PAGE_SIZE, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_FIXED, memfd,
				    3 * MM_PAGE_SIZE) == MAP_FAILED)
		goto out;
	struct uffdio_register reg = {
		.range = {.start = (uintptr_t)p, .len = 2 * MM_PAGE_SIZE},
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect w = {
		.range = {.start = (uintptr_t)p, .len = MM_PAGE_SIZE},
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		caps->wp_shmem_err = -errno;
		goto out;
	}
	caps->wp_shmem_err = ioctl(fd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
	w.range.len = 2 * MM_PAGE_SIZE;
	caps->wp_multi_vma_err = ioctl(fd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
out:
	if (p != MAP_FAILED)
		munmap(p, 2 * MM_PAGE_SIZE);
	if (memfd >= 0)
		close(memfd);
}

static void probe_uffd(struct mm_uffd_caps *ret_caps)
{
	struct uffdio_api all = {.api = UFFD_API};
	struct uffdio_api wp = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	};
	int fd = uffd_new();

	*ret_caps = (struct mm_uffd_caps){.wp_shmem_err = -EOPNOTSUPP,
					  .wp_multi_vma_err = -EOPNOTSUPP};
	if (fd < 0) {
		ret_caps->open_err = fd;
		return;
	}
	/* Asking for no feature reports them all; a uffd takes one UFFDIO_API. */
	if (ioctl(fd, UFFDIO_API, &all) == 0)
		ret_caps->features = all.features;
	close(fd);
	ret_caps->wp_unpopulated = all.features & UFFD_FEATURE_WP_UNPOPULATED;
	ret_caps->wp_async = all.features & UFFD_FEATURE_WP_ASYNC;
	ret_caps->move = all.features & UFFD_FEATURE_MOVE;
	fd = uffd_new();
	if (fd < 0)
		return;
	if (ioctl(fd, UFFDIO_API, &wp) == 0)
		probe_wp_shmem(fd, ret_caps);
	else
		ret_caps->wp_shmem_err = -errno;
	close(fd);
}

/* Fallbacks forced for tests (MM_UFFD_FALLBACK set, not "0"). */
static bool fallback_forced(void)
{
	const char *v = getenv("MM_UFFD_FALLBACK");

	return v && *v && strcmp(v, "0") != 0;
}

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static struct mm_uffd_caps probed;

static void probe_init(void)
{
	probe_uffd(&probed);
	probed.fallback_forced = fallback_forced();
	probed.wp_per_vma = probed.wp_multi_vma_err != 0 || probed.fallback_forced;
}

/* What this kernel offers, probed on first use; the same answer afterwards. */
static const struct mm_uffd_caps *uffd_probe_once(void)
{
	pthread_once(&probe_once, probe_init);
	return &probed;
}

void mm_probe_uffd(struct mm_uffd_caps *ret_caps)
{
	*ret_caps = *uffd_probe_once();
}
