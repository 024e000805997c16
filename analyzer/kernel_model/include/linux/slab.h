/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_SLAB_H
#define _GUPCHECK_LINUX_SLAB_H
#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/overflow.h>

#define ZERO_SIZE_PTR		((void *)16)
#define ZERO_OR_NULL_PTR(x)	((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)
#define KMALLOC_MAX_SIZE	(1UL << 22)

extern void *kmalloc(size_t size, gfp_t flags) __alloc_size(1) __malloc;
extern void *kzalloc(size_t size, gfp_t flags) __alloc_size(1) __malloc;
extern void *kmalloc_array(size_t n, size_t size, gfp_t flags) __alloc_size(1, 2) __malloc;
extern void *kcalloc(size_t n, size_t size, gfp_t flags) __alloc_size(1, 2) __malloc;
extern void *krealloc(const void *p, size_t new_size, gfp_t flags) __alloc_size(2);
extern void *krealloc_array(void *p, size_t n, size_t size, gfp_t flags) __alloc_size(2, 3);
extern void *kmalloc_node(size_t size, gfp_t flags, int node) __alloc_size(1) __malloc;
extern void kfree(const void *objp);
extern void kfree_sensitive(const void *objp);
extern size_t ksize(const void *objp);
extern void *kvmalloc(size_t size, gfp_t flags) __alloc_size(1) __malloc;
extern void *kvzalloc(size_t size, gfp_t flags) __alloc_size(1) __malloc;
extern void *kvmalloc_array(size_t n, size_t size, gfp_t flags) __alloc_size(1, 2) __malloc;
extern void *kvcalloc(size_t n, size_t size, gfp_t flags) __alloc_size(1, 2) __malloc;
extern void kvfree(const void *addr);
extern void kvfree_sensitive(const void *addr, size_t len);

struct kmem_cache;
#define SLAB_HWCACHE_ALIGN	0x00002000U
#define SLAB_ACCOUNT		0x04000000U
extern struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
					    unsigned int flags, void (*ctor)(void *));
extern void kmem_cache_destroy(struct kmem_cache *s);
extern void *kmem_cache_alloc(struct kmem_cache *s, gfp_t flags) __malloc;
extern void *kmem_cache_zalloc(struct kmem_cache *s, gfp_t flags) __malloc;
extern void kmem_cache_free(struct kmem_cache *s, void *objp);

#endif
