/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gupprobe: the companion test module of `gupcheck validate`, shared by the module and the
 * repro programs. It lets a program see what a driver under test holds (the page frame behind
 * a user address, its reference and pin counts, its zone), play the device (read or write a
 * page frame the driver keeps), offer a kernel address to aim unchecked user copies at, and
 * inject the two events a repro cannot time by itself: a failed kmalloc and a value changed by
 * "another thread" right before a given copy_from_user.
 *
 * It is a test tool: it reads and writes any page frame it is told to. Never load it outside
 * a throwaway VM.
 */
#ifndef GUPPROBE_UAPI_H
#define GUPPROBE_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define GUPPROBE_DEVICE		"/dev/gupprobe"

struct gupprobe_page {
	__u64 addr;		/* in (PAGE_INFO): user address */
	__u64 pfn;		/* out (PAGE_INFO), in (PFN_INFO) */
	__u32 refcount;		/* page references, not counting the probe's own */
	__u32 mapcount;		/* page table mappings */
	__u32 pinned;		/* folio_maybe_dma_pinned(): FOLL_PIN pins are held */
	__u32 movable;		/* the page lies in ZONE_MOVABLE */
};

struct gupprobe_pfn_io {
	__u64 pfn;
	__u32 offset;		/* byte offset in the page */
	__u32 len;		/* FILL: bytes to write (offset + len <= page size) */
	__u64 value;		/* READ: out, the 8 bytes at offset; FILL: in, the byte value */
};

struct gupprobe_kbuf {
	__u64 addr;		/* kernel address of the probe's buffer */
	__u32 size;
	__u32 changed;		/* bytes that no longer hold GUPPROBE_KBUF_PATTERN */
};

#define GUPPROBE_KBUF_PATTERN	0xa5

struct gupprobe_refetch {
	__u64 addr;		/* user address of a 32-bit value */
	__u32 value;		/* written there ... */
	__u32 nth;		/* ... right before the calling task's nth copy_from_user() */
};

struct gupprobe_status {
	__u32 kmalloc_failed;	/* an armed kmalloc failure was injected */
	__u32 refetch_fired;	/* an armed value change was made */
	__u32 refetch_left;	/* else: copy_from_user() calls it still waits for */
	__u32 pad;
};

#define GUPPROBE_MAGIC		0xb7
#define GUPPROBE_PAGE_INFO	_IOWR(GUPPROBE_MAGIC, 1, struct gupprobe_page)
#define GUPPROBE_PFN_INFO	_IOWR(GUPPROBE_MAGIC, 2, struct gupprobe_page)
#define GUPPROBE_PFN_READ	_IOWR(GUPPROBE_MAGIC, 3, struct gupprobe_pfn_io)
#define GUPPROBE_PFN_FILL	_IOW(GUPPROBE_MAGIC, 4, struct gupprobe_pfn_io)
#define GUPPROBE_KBUF		_IOR(GUPPROBE_MAGIC, 5, struct gupprobe_kbuf)
#define GUPPROBE_KBUF_RESET	_IO(GUPPROBE_MAGIC, 6)
/* arg: minimum object size; the calling task's next kmalloc of at least that size fails */
#define GUPPROBE_FAIL_KMALLOC	_IOW(GUPPROBE_MAGIC, 7, __u64)
#define GUPPROBE_REFETCH	_IOW(GUPPROBE_MAGIC, 8, struct gupprobe_refetch)
#define GUPPROBE_STATUS		_IOR(GUPPROBE_MAGIC, 9, struct gupprobe_status)

#endif /* GUPPROBE_UAPI_H */
