/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_BITOPS_H
#define _GUPCHECK_LINUX_BITOPS_H
#include <linux/types.h>
#include <linux/bits.h>
#define BITS_TO_LONGS(nr)	(((nr) + BITS_PER_LONG - 1) / BITS_PER_LONG)
#define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]
extern void set_bit(long nr, volatile unsigned long *addr);
extern void clear_bit(long nr, volatile unsigned long *addr);
extern bool test_bit(long nr, const volatile unsigned long *addr);
extern bool test_and_set_bit(long nr, volatile unsigned long *addr);
extern bool test_and_clear_bit(long nr, volatile unsigned long *addr);
extern unsigned long find_first_zero_bit(const unsigned long *addr, unsigned long size);
#endif
