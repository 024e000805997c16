/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_SPINLOCK_H
#define _GUPCHECK_LINUX_SPINLOCK_H
#include <linux/types.h>
#include <linux/compiler.h>

typedef struct spinlock { volatile unsigned int slock; } spinlock_t;
typedef struct raw_spinlock { volatile unsigned int slock; } raw_spinlock_t;
typedef struct { volatile unsigned int lock; } rwlock_t;

#define __SPIN_LOCK_UNLOCKED(name)	(spinlock_t){ .slock = 0 }
#define DEFINE_SPINLOCK(name)		spinlock_t name = __SPIN_LOCK_UNLOCKED(name)
#define __RW_LOCK_UNLOCKED(name)	(rwlock_t){ .lock = 0 }
#define DEFINE_RWLOCK(name)		rwlock_t name = __RW_LOCK_UNLOCKED(name)

extern void __spin_lock_init(spinlock_t *lock, const char *name);
#define spin_lock_init(lock)	__spin_lock_init((lock), #lock)
extern void spin_lock(spinlock_t *lock);
extern void spin_unlock(spinlock_t *lock);
extern int spin_trylock(spinlock_t *lock);
extern void spin_lock_bh(spinlock_t *lock);
extern void spin_unlock_bh(spinlock_t *lock);
extern void spin_lock_irq(spinlock_t *lock);
extern void spin_unlock_irq(spinlock_t *lock);
extern int spin_is_locked(spinlock_t *lock);
/* 'flags' is an lvalue taken by name, as in the kernel. */
extern unsigned long _spin_lock_irqsave(spinlock_t *lock);
#define spin_lock_irqsave(lock, flags) \
	do { (flags) = _spin_lock_irqsave(lock); } while (0)
extern void spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
#define assert_spin_locked(lock)	((void)(lock))
#define lockdep_assert_held(lock)	((void)(lock))

extern void __rwlock_init(rwlock_t *lock, const char *name);
#define rwlock_init(lock)	__rwlock_init((lock), #lock)
extern void read_lock(rwlock_t *lock);
extern void read_unlock(rwlock_t *lock);
extern void write_lock(rwlock_t *lock);
extern void write_unlock(rwlock_t *lock);
extern void read_lock_bh(rwlock_t *lock);
extern void read_unlock_bh(rwlock_t *lock);
extern void write_lock_bh(rwlock_t *lock);
extern void write_unlock_bh(rwlock_t *lock);
extern void read_lock_irq(rwlock_t *lock);
extern void read_unlock_irq(rwlock_t *lock);
extern void write_lock_irq(rwlock_t *lock);
extern void write_unlock_irq(rwlock_t *lock);
extern unsigned long _read_lock_irqsave(rwlock_t *lock);
extern unsigned long _write_lock_irqsave(rwlock_t *lock);
#define read_lock_irqsave(lock, flags) \
	do { (flags) = _read_lock_irqsave(lock); } while (0)
#define write_lock_irqsave(lock, flags) \
	do { (flags) = _write_lock_irqsave(lock); } while (0)
extern void read_unlock_irqrestore(rwlock_t *lock, unsigned long flags);
extern void write_unlock_irqrestore(rwlock_t *lock, unsigned long flags);

extern void local_irq_disable(void);
extern void local_irq_enable(void);
extern unsigned long _local_irq_save(void);
#define local_irq_save(flags)	do { (flags) = _local_irq_save(); } while (0)
extern void local_irq_restore(unsigned long flags);
extern void preempt_disable(void);
extern void preempt_enable(void);

#endif
