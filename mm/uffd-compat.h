/* SPDX-License-Identifier: MIT */
/*
 * userfaultfd definitions newer than the distribution's linux-libc-dev
 * (Debian 12 ships 6.1 headers). Values from the kernel's UAPI; the kernel
 * tells at run time (UFFDIO_API) whether it has them.
 */
#ifndef MM_UFFD_COMPAT_H
#define MM_UFFD_COMPAT_H

#include <linux/userfaultfd.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC 0xAA
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

#endif
