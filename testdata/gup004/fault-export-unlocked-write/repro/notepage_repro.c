/*
 * Repro of testdata/gup004/fault-export-unlocked-write. write() copies into the shared note
 * page without note.lock. Its source buffer starts 100 bytes before a page that a
 * userfaultfd holds back, so copy_from_user() stops there until the fault is served; while it
 * waits, a read() (which takes note.lock) returns the note: the first 100 bytes are the new
 * text, the rest the old one. A note like that was never written under the lock.
 */
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <linux/userfaultfd.h>
#include <sys/syscall.h>

#include "gupcheck_repro.h"

#define NOTE_LEN	1000
#define HEAD		100

struct writer {
	int fd;
	const char *src;
	ssize_t written;
};

static void *write_note(void *arg)
{
	struct writer *w = arg;

	w->written = write(w->fd, w->src, NOTE_LEN);
	return NULL;
}

static int locked_read_sees_half_written_note(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_copy copy = { 0 };
	char old[NOTE_LEN], seen[NOTE_LEN + 1];
	struct uffd_msg msg;
	struct pollfd wait;
	struct writer w;
	pthread_t thread;
	uint8_t *area, *fill;
	int fd, reader, uffd, fresh = 0, stale = 0, i;
	ssize_t n;

	fd = open("/dev/notepage", O_RDWR);
	reader = open("/dev/notepage", O_RDONLY);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || reader < 0 || uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return setup_error("/dev/notepage or userfaultfd: %s", strerror(errno));
	memset(old, 'A', sizeof(old));
	if (write(fd, old, sizeof(old)) != NOTE_LEN)
		return setup_error("write: %s", strerror(errno));

	area = mmap(NULL, 2 * REPRO_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill = map_buffer(REPRO_PAGE);
	if (area == MAP_FAILED || !fill)
		return setup_error("mmap: %s", strerror(errno));
	memset(area, 'B', REPRO_PAGE);		/* the first page is there, the second is not */
	memset(fill, 'B', REPRO_PAGE);
	reg.range.start = (uintptr_t)area + REPRO_PAGE;
	reg.range.len = REPRO_PAGE;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return setup_error("UFFDIO_REGISTER: %s", strerror(errno));

	w = (struct writer){ .fd = fd, .src = (const char *)area + REPRO_PAGE - HEAD };
	if (pthread_create(&thread, NULL, write_note, &w))
		return setup_error("pthread_create failed");
	wait = (struct pollfd){ .fd = uffd, .events = POLLIN };
	if (poll(&wait, 1, 5000) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return setup_error("write() never stalled on the held-back page");

	/* write() is stopped inside copy_from_user(); read() takes note.lock. */
	n = read(reader, seen, NOTE_LEN);

	copy.dst = reg.range.start;
	copy.src = (uintptr_t)fill;
	copy.len = REPRO_PAGE;
	ioctl(uffd, UFFDIO_COPY, &copy);
	pthread_join(thread, NULL);
	close(fd);
	close(reader);
	for (i = 0; i < (n > 0 ? n : 0); i++) {
		fresh += seen[i] == 'B';
		stale += seen[i] == 'A';
	}
	if (fresh && stale)
		return bug("while write() was stopped inside its copy into the shared page (it holds no "
			   "lock), a read() holding note.lock returned %zd bytes: %d of the new note then %d "
			   "of the old one, a note nobody wrote", n, fresh, stale);
	return ok("a read() during the stalled write() returned %zd bytes: %d new, %d old", n, fresh, stale);
}

REPRO_SCENARIOS(
	{ "locked-read-sees-half-written-note", locked_read_sees_half_written_note },
)
