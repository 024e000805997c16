// SPDX-License-Identifier: GPL-2.0
/*
 * GUP005 look-alikes taken from idioms of real drivers: a cursor that aliases a checked user
 * buffer, lengths clamped by min_t(), by a ternary or by `if (len > n) len = n;`, a counter that
 * only goes down, and a kernel pointer to a user pointer. Two real bugs sit among them.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#define PORTIO_FIFO_SIZE 64

static u8 portio_fifo[PORTIO_FIFO_SIZE];
static size_t portio_avail;

static u8 portio_inb(unsigned long port)
{
	return (u8)(port & 0xff);
}

/* Negative: 'cursor' copies 'buf' before the access_ok() on 'buf' and walks inside its range. */
static ssize_t portio_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	unsigned long port = *ppos;
	char __user *cursor = buf;

	if (!access_ok(buf, count))
		return -EFAULT;
	while (count-- > 0 && port < 65536) {
		if (__put_user(portio_inb(port), cursor) < 0)
			return -EFAULT;
		port++;
		cursor++;
	}
	*ppos = port;
	return cursor - buf;
}

/* Negative: the length is clamped by `if (len > count) len = count;` after len = portio_avail. */
static ssize_t portio_drain(char __user *buf, size_t count)
{
	u8 chunk[PORTIO_FIFO_SIZE];
	size_t len;

	len = portio_avail;
	if (len > count)
		len = count;
	portio_avail -= len;
	memcpy(chunk, portio_fifo + portio_avail, len);
	if (copy_to_user(buf, chunk, len))
		return -EFAULT;
	return len;
}

/* Negative: min_t() and a ternary both bound the user's count. */
static ssize_t portio_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	size_t take = min_t(size_t, count, sizeof(portio_fifo));
	size_t again;

	if (copy_from_user(portio_fifo, buf, take))
		return -EFAULT;
	again = (count > PORTIO_FIFO_SIZE) ? PORTIO_FIFO_SIZE : count;
	if (copy_from_user(portio_fifo, buf, again))
		return -EFAULT;
	portio_avail = take;
	return take;
}

/* Negative: 'slot' is a kernel pointer to a user pointer; *slot reads kernel memory. */
static int portio_emit(void __user **slot, const void *data, size_t len)
{
	if (copy_to_user(*slot, data, len))
		return -EFAULT;
	*slot += len;
	return 0;
}

/* Positive: the count is only bounded below. */
static ssize_t portio_peek(char __user *buf, size_t count)
{
	if (count < 1)
		return -EINVAL;
	if (copy_to_user(buf, portio_fifo, count)) /* expect: GUP005 */
		return -EFAULT;
	return count;
}

#define PORTIO_IOC_DRAIN _IOR('p', 1, __u64)
#define PORTIO_IOC_PEEK _IOR('p', 2, __u64)
#define PORTIO_IOC_EMIT _IOR('p', 3, __u64)

static long portio_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *out = (void __user *)arg;
	u8 header[4] = { 0 };

	switch (cmd) {
	case PORTIO_IOC_DRAIN:
		return portio_drain(out, PAGE_SIZE);
	case PORTIO_IOC_PEEK:
		return portio_peek(out, arg & 0xffff);
	case PORTIO_IOC_EMIT:
		if (portio_emit(&out, header, sizeof(header)))
			return -EFAULT;
		/* Positive: a cursor that was never checked. */
		return __put_user(header[0], (u8 __user *)out); /* expect: GUP005 */
	default:
		return -ENOTTY;
	}
}

static const struct file_operations portio_fops = {
	.owner = THIS_MODULE,
	.read = portio_read,
	.write = portio_write,
	.unlocked_ioctl = portio_ioctl,
};

static struct miscdevice portio_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "portio",
	.fops = &portio_fops,
};

module_misc_device(portio_misc);
MODULE_LICENSE("GPL");
