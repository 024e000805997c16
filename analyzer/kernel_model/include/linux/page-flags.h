/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_PAGE_FLAGS_H
#define _GUPCHECK_LINUX_PAGE_FLAGS_H
#include <linux/types.h>
struct page;
extern int PageReserved(const struct page *page);
extern void SetPageReserved(struct page *page);
extern void ClearPageReserved(struct page *page);
extern int PageDirty(const struct page *page);
extern void SetPageDirty(struct page *page);
extern int PageLocked(const struct page *page);
extern int PageHighMem(const struct page *page);
extern int PageCompound(const struct page *page);
extern int PageAnon(const struct page *page);
extern int PageSwapBacked(const struct page *page);
#endif
