/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_HIGHMEM_H
#define _GUPCHECK_LINUX_HIGHMEM_H
#include <linux/mm.h>
#include <linux/string.h>
extern void *kmap(struct page *page);
extern void kunmap(struct page *page);
extern void *kmap_local_page(struct page *page);
extern void __kunmap_local(const void *addr);
#define kunmap_local(addr)	__kunmap_local(addr)
extern void *kmap_atomic(struct page *page);
extern void __kunmap_atomic(const void *addr);
#define kunmap_atomic(addr)	__kunmap_atomic(addr)
extern void clear_highpage(struct page *page);
extern void copy_highpage(struct page *to, struct page *from);
extern void flush_dcache_page(struct page *page);
extern void memcpy_from_page(char *to, struct page *page, size_t offset, size_t len);
extern void memcpy_to_page(struct page *page, size_t offset, const char *from, size_t len);
#endif
