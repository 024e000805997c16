/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_TYPES_H
#define _GUPCHECK_LINUX_TYPES_H
#include <linux/compiler_types.h>
#include <linux/stddef.h>

typedef signed char		__s8;
typedef unsigned char		__u8;
typedef signed short		__s16;
typedef unsigned short		__u16;
typedef signed int		__s32;
typedef unsigned int		__u32;
typedef signed long long	__s64;
typedef unsigned long long	__u64;
typedef __s8 s8;	typedef __u8 u8;
typedef __s16 s16;	typedef __u16 u16;
typedef __s32 s32;	typedef __u32 u32;
typedef __s64 s64;	typedef __u64 u64;
typedef __u16 __le16;	typedef __u16 __be16;
typedef __u32 __le32;	typedef __u32 __be32;
typedef __u64 __le64;	typedef __u64 __be64;
typedef __u64 __aligned_u64;

typedef unsigned long		size_t;
typedef long			ssize_t;
typedef long			ptrdiff_t;
typedef unsigned long		uintptr_t;
typedef long			intptr_t;
typedef long long		loff_t;
typedef long			off_t;
typedef _Bool			bool;
typedef u8 uint8_t;	typedef u16 uint16_t;	typedef u32 uint32_t;	typedef u64 uint64_t;
typedef s8 int8_t;	typedef s16 int16_t;	typedef s32 int32_t;	typedef s64 int64_t;

typedef unsigned int		gfp_t;
typedef unsigned int		fmode_t;
typedef unsigned int		__poll_t;
typedef unsigned short		umode_t;
typedef u32			dev_t;
typedef int			pid_t;
typedef unsigned int		uid_t;
typedef unsigned int		gid_t;
typedef unsigned long		pgoff_t;
typedef u64			dma_addr_t;
typedef u64			phys_addr_t;
typedef phys_addr_t		resource_size_t;
typedef long			time64_t;
typedef s64			ktime_t;

typedef struct { int counter; } atomic_t;
typedef struct { s64 counter; } atomic64_t;
typedef atomic64_t atomic_long_t;

struct list_head { struct list_head *next, *prev; };
struct hlist_head { struct hlist_node *first; };
struct hlist_node { struct hlist_node *next, **pprev; };
struct callback_head { struct callback_head *next; void (*func)(struct callback_head *head); };
#define rcu_head callback_head

#endif
