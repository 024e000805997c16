// SPDX-License-Identifier: GPL-2.0
/*
 * gupcheck's bundled example: a small misc device ("demo") with an ioctl that takes a
 * request struct from user space and a write handler. It mixes correct uaccess code with
 * the mistakes GUP005 reports; `make run` analyses this folder.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#define DEMO_NAME_LEN 32

struct demo_req {
	__u32 len;
	__u32 flags;
	__u64 data; /* user address of len bytes */
};

#define DEMO_IOC_SET_NAME _IOW('d', 1, struct demo_req)
#define DEMO_IOC_GET_NAME _IOR('d', 2, struct demo_req)
#define DEMO_IOC_SET_FLAGS _IOW('d', 3, __u32)

struct demo_dev {
	char name[DEMO_NAME_LEN];
	__u32 flags;
};

static struct demo_dev demo;

static long demo_set_name(struct demo_req *req)
{
	/* BUG: req->len comes from user space and is never bounded */
	if (copy_from_user(demo.name, u64_to_user_ptr(req->data), req->len)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

static long demo_get_name(struct demo_req *req)
{
	size_t len = min_t(size_t, req->len, sizeof(demo.name));

	if (copy_to_user(u64_to_user_ptr(req->data), demo.name, len))
		return -EFAULT;
	return 0;
}

static long demo_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	struct demo_req req;
	__u32 flags;

	switch (cmd) {
	case DEMO_IOC_SET_NAME:
		if (copy_from_user(&req, argp, sizeof(req)))
			return -EFAULT;
		return demo_set_name(&req);
	case DEMO_IOC_GET_NAME:
		if (copy_from_user(&req, argp, sizeof(req)))
			return -EFAULT;
		return demo_get_name(&req);
	case DEMO_IOC_SET_FLAGS:
		/* BUG: no access_ok() before the unchecked accessor */
		if (__get_user(flags, (__u32 __user *)argp)) /* expect: GUP005 */
			return -EFAULT;
		demo.flags = flags;
		return 0;
	default:
		return -ENOTTY;
	}
}

static ssize_t demo_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	char line[DEMO_NAME_LEN];

	if (count >= sizeof(line))
		return -EINVAL;
	/* BUG: the result is ignored, a fault leaves line[] uninitialised */
	copy_from_user(line, buf, count); /* expect: GUP005 */
	line[count] = '\0';
	pr_info("demo: %s\n", line);
	return count;
}

static const struct file_operations demo_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = demo_ioctl,
	.write = demo_write,
};

static struct miscdevice demo_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "demo",
	.fops = &demo_fops,
};

static int __init demo_init(void)
{
	return misc_register(&demo_misc);
}

static void __exit demo_exit(void)
{
	misc_deregister(&demo_misc);
}

module_init(demo_init);
module_exit(demo_exit);
MODULE_LICENSE("GPL");
