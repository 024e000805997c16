/*
 * Repro of testdata/gup004/release-frees-mapped-buffer. A first opener maps the log and writes
 * into it; a second opener opens and closes the device. Then: does the driver still hold the
 * page the first opener maps (its references, through gupprobe), and does a third opener map
 * the same log? sharedlog's .release vfree()s the device-wide log under the first mapping:
 * only the mapping's reference is left and newcomers get a fresh, empty log.
 */
#include <stdio.h>

#include "gupcheck_repro.h"

static int close_under_mapping(const char *name, int shared)
{
	char path[64], *first, *third;
	struct gupprobe_page before, after;
	int fd1, fd2, fd3;

	snprintf(path, sizeof(path), "/dev/%s", name);
	fd1 = open(path, O_RDWR);
	if (fd1 < 0)
		return setup_error("%s: %s", path, strerror(errno));
	first = mmap(NULL, REPRO_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
	if (first == MAP_FAILED)
		return setup_error("mmap %s: %s", path, strerror(errno));
	strcpy(first, "first opener's entry");
	if (page_info(first, &before))
		return setup_error("gupprobe: %s", strerror(errno));
	fd2 = open(path, O_RDWR);
	if (fd2 < 0)
		return setup_error("%s: %s", path, strerror(errno));
	close(fd2);
	if (page_info(first, &after))
		return setup_error("gupprobe: %s", strerror(errno));
	fd3 = open(path, O_RDWR);
	third = fd3 < 0 ? MAP_FAILED : mmap(NULL, REPRO_PAGE, PROT_READ, MAP_SHARED, fd3, 0);
	if (after.refcount < before.refcount)
		return bug("another opener's close() dropped the driver's reference to the log page the first "
			   "opener still maps (pfn %#llx: %u references, %u before): the log was freed under "
			   "the mapping%s", (unsigned long long)after.pfn, after.refcount, before.refcount,
			   third != MAP_FAILED && strcmp(third, first) ?
			   ", and a new opener maps a fresh log without the first opener's entry" : "");
	if (shared && (third == MAP_FAILED || strcmp(third, first)))
		return bug("a new opener does not see the first opener's entry in the device's log");
	return ok("another opener's close() left the log the first opener maps in place (pfn %#llx, %u "
		  "references)%s", (unsigned long long)after.pfn, after.refcount,
		  shared ? " and a new opener sees the first opener's entry" : "");
}

static int sharedlog_frees_a_mapped_log(void)
{
	return close_under_mapping("sharedlog", 1);
}

static int countlog_keeps_a_mapped_log(void)
{
	return close_under_mapping("countlog", 1);
}

/* kreflog starts a fresh buffer at every close: only the old one's survival matters. */
static int kreflog_keeps_a_mapped_log(void)
{
	return close_under_mapping("kreflog", 0);
}

static int privlog_keeps_a_mapped_log(void)
{
	return close_under_mapping("privlog", 0);
}

REPRO_SCENARIOS(
	{ "sharedlog-frees-a-mapped-log", sharedlog_frees_a_mapped_log },
	{ "countlog-keeps-a-mapped-log", countlog_keeps_a_mapped_log },
	{ "kreflog-keeps-a-mapped-log", kreflog_keeps_a_mapped_log },
	{ "privlog-keeps-a-mapped-log", privlog_keeps_a_mapped_log },
)
