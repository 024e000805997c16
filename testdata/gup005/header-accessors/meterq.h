/*
 * GUP005 case "header-accessors": the user accesses of this driver sit in
 * static inline helpers of its own header, where a walk of meterq.c alone
 * never looks. Flagged: a __put_user() in a helper one caller reaches with no
 * access_ok(), and a copy_from_user() whose result a helper drops. Look-alike:
 * the same __put_user() in a helper every caller range-checks first.
 */
#ifndef METERQ_H
#define METERQ_H

#include <linux/types.h>
#include <linux/uaccess.h>

struct meterq_limits {
	__u32 low;
	__u32 high;
};

/* Every caller runs access_ok() on dst before it gets here. */
static inline int meterq_put_checked(__u64 __user *dst, __u64 value)
{
	return __put_user(value, dst);
}

/* The READING ioctl hands the user's pointer straight over. */
static inline int meterq_put_reading(__u64 __user *dst, __u64 value)
{
	return __put_user(value, dst); /* expect: GUP005 */
}

/* The copy's result is dropped: a fault leaves *limits as it was. */
static inline void meterq_fetch_limits(struct meterq_limits *limits,
				       const void __user *src)
{
	copy_from_user(limits, src, sizeof(*limits)); /* expect: GUP005 */
}

#endif /* METERQ_H */
