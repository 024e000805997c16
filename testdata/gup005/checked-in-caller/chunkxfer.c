/*
 * README: GUP005 case "checked-in-caller". The ioctl handlers copy a request
 * in, check its user ranges with access_ok(), and hand the request to helpers
 * that do the unchecked __copy_*_user on the same fields (req->dst, req->src).
 * A field checked by every caller is covered in the helper; the helper is
 * flagged when one caller skips the check, or checked another field.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define CHUNK_BYTES	128

struct chunk_req {
	__u64 src;	/* user buffer the chunk is loaded from */
	__u64 dst;	/* user buffer the chunk is stored to */
	__u32 len;
	__u32 flags;
};

#define CHUNK_IOC_MAGIC		'k'
#define CHUNK_IOC_STORE		_IOW(CHUNK_IOC_MAGIC, 1, struct chunk_req)
#define CHUNK_IOC_STORE_TWICE	_IOW(CHUNK_IOC_MAGIC, 2, struct chunk_req)
#define CHUNK_IOC_LOAD		_IOW(CHUNK_IOC_MAGIC, 3, struct chunk_req)
#define CHUNK_IOC_RELOAD	_IOW(CHUNK_IOC_MAGIC, 4, struct chunk_req)
#define CHUNK_IOC_SWAP		_IOW(CHUNK_IOC_MAGIC, 5, struct chunk_req)

struct chunk_dev {
	struct mutex lock;
	u8 buf[CHUNK_BYTES];
	u32 stores;
};

static struct chunk_dev chunk;

/* Negative: every caller checked req->dst (one of them through chunk_store_twice). */
static int chunk_store_one(struct chunk_dev *c, struct chunk_req *req)
{
	if (__copy_to_user(u64_to_user_ptr(req->dst), c->buf, req->len))
		return -EFAULT;
	c->stores++;
	return 0;
}

static int chunk_store_twice(struct chunk_dev *c, struct chunk_req *req)
{
	int ret = chunk_store_one(c, req);

	return ret ? ret : chunk_store_one(c, req);
}

/* Positive: CHUNK_IOC_RELOAD reaches it without checking req->src. */
static int chunk_load_one(struct chunk_dev *c, const struct chunk_req *req)
{
	if (__copy_from_user(c->buf, u64_to_user_ptr(req->src), req->len)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

/* Positive: the caller checked req->src, not req->dst. */
static int chunk_swap_out(struct chunk_dev *c, const struct chunk_req *req)
{
	if (__copy_to_user(u64_to_user_ptr(req->dst), c->buf, req->len)) /* expect: GUP005 */
		return -EFAULT;
	return 0;
}

static long chunk_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct chunk_req req;
	long ret;

	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	if (req.len > CHUNK_BYTES)
		return -EINVAL;
	mutex_lock(&chunk.lock);
	switch (cmd) {
	case CHUNK_IOC_STORE:
		ret = -EFAULT;
		if (access_ok(u64_to_user_ptr(req.dst), req.len))
			ret = chunk_store_one(&chunk, &req);
		break;
	case CHUNK_IOC_STORE_TWICE:
		ret = -EFAULT;
		if (access_ok(u64_to_user_ptr(req.dst), req.len))
			ret = chunk_store_twice(&chunk, &req);
		break;
	case CHUNK_IOC_LOAD:
		ret = -EFAULT;
		if (access_ok(u64_to_user_ptr(req.src), req.len))
			ret = chunk_load_one(&chunk, &req);
		break;
	case CHUNK_IOC_RELOAD:
		ret = chunk_load_one(&chunk, &req);
		break;
	case CHUNK_IOC_SWAP:
		ret = -EFAULT;
		if (access_ok(u64_to_user_ptr(req.src), req.len))
			ret = chunk_swap_out(&chunk, &req);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&chunk.lock);
	return ret;
}

static const struct file_operations chunk_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= chunk_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice chunk_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "chunkxfer",
	.fops	= &chunk_fops,
};

static int __init chunk_init(void)
{
	mutex_init(&chunk.lock);
	memset(chunk.buf, 0x3c, sizeof(chunk.buf));
	return misc_register(&chunk_misc);
}

static void __exit chunk_exit(void)
{
	misc_deregister(&chunk_misc);
}

module_init(chunk_init);
module_exit(chunk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chunk transfer with checks in the caller (gupcheck GUP005 test case)");
