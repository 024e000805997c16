/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_PAGEMAP_H
#define _GUPCHECK_LINUX_PAGEMAP_H
#include <linux/mm.h>
#include <linux/fs.h>
#include <linux/highmem.h>
extern void lock_page(struct page *page);
extern void unlock_page(struct page *page);
extern int trylock_page(struct page *page);
extern void mark_page_accessed(struct page *page);
#endif
