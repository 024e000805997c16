/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_ATOMIC_H
#define _GUPCHECK_LINUX_ATOMIC_H
#include <linux/types.h>
#include <linux/compiler.h>

#define ATOMIC_INIT(i)		{ (i) }
#define ATOMIC64_INIT(i)	{ (i) }
#define ATOMIC_LONG_INIT(i)	ATOMIC64_INIT(i)

extern int atomic_read(const atomic_t *v);
extern void atomic_set(atomic_t *v, int i);
extern void atomic_inc(atomic_t *v);
extern void atomic_dec(atomic_t *v);
extern void atomic_add(int i, atomic_t *v);
extern void atomic_sub(int i, atomic_t *v);
extern int atomic_inc_return(atomic_t *v);
extern int atomic_dec_return(atomic_t *v);
extern int atomic_add_return(int i, atomic_t *v);
extern int atomic_sub_return(int i, atomic_t *v);
extern int atomic_fetch_add(int i, atomic_t *v);
extern int atomic_fetch_sub(int i, atomic_t *v);
extern bool atomic_dec_and_test(atomic_t *v);
extern bool atomic_inc_and_test(atomic_t *v);
extern bool atomic_sub_and_test(int i, atomic_t *v);
extern bool atomic_inc_not_zero(atomic_t *v);
extern bool atomic_add_unless(atomic_t *v, int a, int u);
extern int atomic_cmpxchg(atomic_t *v, int old, int new);
extern int atomic_xchg(atomic_t *v, int new);

extern s64 atomic64_read(const atomic64_t *v);
extern void atomic64_set(atomic64_t *v, s64 i);
extern void atomic64_inc(atomic64_t *v);
extern void atomic64_dec(atomic64_t *v);
extern void atomic64_add(s64 i, atomic64_t *v);
extern void atomic64_sub(s64 i, atomic64_t *v);
extern s64 atomic64_inc_return(atomic64_t *v);
extern s64 atomic64_add_return(s64 i, atomic64_t *v);
extern bool atomic64_dec_and_test(atomic64_t *v);

extern long atomic_long_read(const atomic_long_t *v);
extern void atomic_long_set(atomic_long_t *v, long i);
extern void atomic_long_inc(atomic_long_t *v);
extern void atomic_long_dec(atomic_long_t *v);
extern void atomic_long_add(long i, atomic_long_t *v);
extern void atomic_long_sub(long i, atomic_long_t *v);

#define smp_mb()	__sync_synchronize()
#define smp_rmb()	barrier()
#define smp_wmb()	barrier()
#define smp_load_acquire(p)	({ __typeof__(*(p)) __gc_v = READ_ONCE(*(p)); barrier(); __gc_v; })
#define smp_store_release(p, v)	do { barrier(); WRITE_ONCE(*(p), v); } while (0)

#endif
