/*
 * GUP004 case "runtime-fault-ops-chunk-lookup": a trace arena made of a few
 * vmalloc'ed chunks. mmap only installs the vm operations; their .fault is
 * filled in at module init (the table is not a const initializer), and it
 * finds the page for an offset by walking the chunk table in a helper. The
 * chunks are therefore shared with user space although no mmap handler names
 * them.
 *
 * APPEND writes records into the chunks under ca->lock; TRIM clears the
 * first record of every chunk without it: flagged. Look-alikes: the scratch
 * chunk (never handed out by the fault handler) is cleared without the lock
 * too; module init fills the chunks before the device is registered.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define CA_CHUNKS	4
#define CA_CHUNK_SIZE	(8 * PAGE_SIZE)

#define CA_IOC_MAGIC	'c'
#define CA_IOC_APPEND	_IOW(CA_IOC_MAGIC, 1, __u64)
#define CA_IOC_TRIM	_IO(CA_IOC_MAGIC, 2)

struct ca_chunk {
	u64 *words;		/* CA_CHUNK_SIZE bytes of vmalloc memory */
	size_t used;		/* words written */
};

struct ca_arena {
	struct mutex lock;
	struct ca_chunk chunks[CA_CHUNKS];
	u64 *scratch;		/* kernel-only staging area */
	unsigned int cur;
};

static struct ca_arena arena;
static struct vm_operations_struct ca_vm_ops;

/* The page backing byte `off` of the arena, chunk after chunk. */
static struct page *ca_lookup(struct ca_arena *ca, unsigned long off)
{
	unsigned int i;

	for (i = 0; i < CA_CHUNKS; i++) {
		if (off < CA_CHUNK_SIZE)
			return vmalloc_to_page((u8 *)ca->chunks[i].words + off);
		off -= CA_CHUNK_SIZE;
	}
	return NULL;
}

static vm_fault_t ca_fault(struct vm_fault *vmf)
{
	struct ca_arena *ca = vmf->vma->vm_private_data;
	struct page *page = ca_lookup(ca, vmf->pgoff << PAGE_SHIFT);

	if (!page)
		return VM_FAULT_SIGBUS;
	get_page(page);
	vmf->page = page;
	return 0;
}

static int ca_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma->vm_private_data = &arena;
	vma->vm_ops = &ca_vm_ops;
	return 0;
}

static void ca_append(struct ca_arena *ca, u64 record)
{
	struct ca_chunk *chunk;

	mutex_lock(&ca->lock);
	chunk = &ca->chunks[ca->cur];
	if (chunk->used == CA_CHUNK_SIZE / sizeof(u64)) {
		ca->cur = (ca->cur + 1) % CA_CHUNKS;
		chunk = &ca->chunks[ca->cur];
		chunk->used = 0;
	}
	ca->scratch[0] = record;
	chunk->words[chunk->used++] = record;
	mutex_unlock(&ca->lock);
}

/* Positive: clears records APPEND may be writing at the same time. */
static void ca_trim(struct ca_arena *ca)
{
	unsigned int i;

	memset(ca->scratch, 0, PAGE_SIZE);
	for (i = 0; i < CA_CHUNKS; i++)
		ca->chunks[i].words[0] = 0; /* expect: GUP004 */
}

static long ca_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	u64 record;

	switch (cmd) {
	case CA_IOC_APPEND:
		if (get_user(record, (u64 __user *)arg))
			return -EFAULT;
		ca_append(&arena, record);
		return 0;
	case CA_IOC_TRIM:
		ca_trim(&arena);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ca_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= ca_ioctl,
	.mmap		= ca_mmap,
};

static struct miscdevice ca_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "chunkarena",
	.fops	= &ca_fops,
};

static void ca_free(void)
{
	unsigned int i;

	for (i = 0; i < CA_CHUNKS; i++)
		vfree(arena.chunks[i].words);
	vfree(arena.scratch);
}

static int __init ca_init(void)
{
	unsigned int i;
	int ret;

	mutex_init(&arena.lock);
	arena.scratch = vzalloc(PAGE_SIZE);
	if (!arena.scratch)
		return -ENOMEM;
	for (i = 0; i < CA_CHUNKS; i++) {
		arena.chunks[i].words = vzalloc(CA_CHUNK_SIZE);
		if (!arena.chunks[i].words) {
			ca_free();
			return -ENOMEM;
		}
		arena.chunks[i].words[0] = ~0ULL;
	}
	ca_vm_ops.fault = ca_fault;
	ret = misc_register(&ca_misc);
	if (ret)
		ca_free();
	return ret;
}

static void __exit ca_exit(void)
{
	misc_deregister(&ca_misc);
	ca_free();
}

module_init(ca_init);
module_exit(ca_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Trace arena paged in by a runtime .fault (gupcheck GUP004 test case)");
