/* gupcheck's model of the kernel API: not the Linux kernel's header. */
#ifndef _GUPCHECK_LINUX_STRING_H
#define _GUPCHECK_LINUX_STRING_H
#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/err.h>

extern void *memcpy(void *dst, const void *src, size_t n);
extern void *memmove(void *dst, const void *src, size_t n);
extern void *memset(void *s, int c, size_t n);
extern int memcmp(const void *a, const void *b, size_t n);
extern void *memchr(const void *s, int c, size_t n);
extern size_t strlen(const char *s);
extern size_t strnlen(const char *s, size_t maxlen);
extern char *strcpy(char *dst, const char *src);
extern char *strncpy(char *dst, const char *src, size_t n);
extern size_t strlcpy(char *dst, const char *src, size_t size);
extern ssize_t strscpy(char *dst, const char *src, size_t size);
extern char *strcat(char *dst, const char *src);
extern size_t strlcat(char *dst, const char *src, size_t size);
extern int strcmp(const char *a, const char *b);
extern int strncmp(const char *a, const char *b, size_t n);
extern int strcasecmp(const char *a, const char *b);
extern char *strchr(const char *s, int c);
extern char *strrchr(const char *s, int c);
extern char *strstr(const char *hay, const char *needle);
extern char *strsep(char **s, const char *delim);
extern char *strim(char *s);
extern char *kstrdup(const char *s, gfp_t gfp) __malloc;
extern char *kstrndup(const char *s, size_t max, gfp_t gfp);
extern void *kmemdup(const void *src, size_t len, gfp_t gfp) __alloc_size(2);
extern void *memdup_user(const void __user *src, size_t len);
extern void *vmemdup_user(const void __user *src, size_t len);
extern void *memdup_user_nul(const void __user *src, size_t len);
extern char *strndup_user(const char __user *s, long n);
extern bool sysfs_streq(const char *a, const char *b);
extern void memzero_explicit(void *s, size_t count);

#endif
