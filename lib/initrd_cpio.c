/*
 * initrd_cpio.c - the Linux kernel's newc unpacking state machine
 * (init/initramfs.c: do_start ... do_reset), minus the file system.
 *
 * It follows the kernel step by step so that what it accepts, skips and
 * rejects is what the kernel does: headers parsed with strtoul semantics
 * (stop at the first non-hex digit), entries with an empty or over-long
 * name skipped, non-regular entries with data skipped unnamed, every
 * entry followed by the Reset state (NUL padding, then "broken padding"
 * if the next byte is not 4-aligned).  It creates nothing: names are
 * handed to ops->entry and data only to those who ask for it.  Hard
 * links, times and ownership are not tracked.
 */
#include <string.h>
#include <sys/stat.h>

#include "initrd_i.h"

/* Bytes still unseen in this call: victim/byte_count of the kernel. */
struct run {
	const uint8_t *victim;
	size_t byte_count;
};

static void eat(struct ird_cpio *c, struct run *r, size_t n)
{
	r->victim += n;
	r->byte_count -= n;
	c->this_header += n;
}

static void error(struct ird_cpio *c, const char *msg)
{
	if (!c->msg)
		c->msg = msg;
}

/*
 * Kernel read_into(), always copying into @buf so names end in NUL.  Like
 * the kernel, next_state changes only when the bytes must be collected
 * across calls: a skipped entry (empty name) then goes on to next_state,
 * whichever that is.
 */
static void read_into(struct ird_cpio *c, struct run *r, uint8_t *buf,
		      uint64_t size, enum ird_state next)
{
	c->collected = buf;
	buf[size] = '\0';
	if (r->byte_count >= size) {
		memcpy(buf, r->victim, size);
		eat(c, r, size);
		c->state = next;
		return;
	}
	c->collect = buf;
	c->remains = size;
	c->next_state = next;
	c->state = IRD_COLLECT;
}

/* simple_strntoul(s, NULL, 16, 8): optional 0x, digits until non-hex. */
static uint64_t hex8(const uint8_t *s)
{
	uint64_t v = 0;
	int i = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		i = 2;
	for (; i < 8; i++) {
		int d;

		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			break;
		v = v * 16 + (uint64_t)d;
	}
	return v;
}

static int do_start(struct ird_cpio *c, struct run *r)
{
	read_into(c, r, c->header_buf, 110, IRD_GOTHEADER);
	return 0;
}

static int do_collect(struct ird_cpio *c, struct run *r)
{
	uint64_t n = c->remains < r->byte_count ? c->remains : r->byte_count;

	memcpy(c->collect, r->victim, n);
	eat(c, r, n);
	c->collect += n;
	if ((c->remains -= n) != 0)
		return 1;
	c->state = c->next_state;
	return 0;
}

static int do_header(struct ird_cpio *c, struct run *r)
{
	const uint8_t *h = c->collected;

	if (!memcmp(h, "070701", 6)) {
		c->csum_present = 0;
	} else if (!memcmp(h, "070702", 6)) {
		c->csum_present = 1;
	} else {
		if (!memcmp(h, "070707", 6))
			error(c, "incorrect cpio method used: use -H newc "
			      "option");
		else
			error(c, "no cpio magic");
		return 1;
	}
	/* ino mode uid gid nlink mtime filesize maj min rmaj rmin namesize */
	c->mode = hex8(h + 6 + 1 * 8);
	c->body_len = hex8(h + 6 + 6 * 8);
	c->name_len = hex8(h + 6 + 11 * 8);
	c->hdr_csum = hex8(h + 6 + 12 * 8);
	c->next_header = c->this_header + IRD_N_ALIGN(c->name_len) +
			 c->body_len;
	c->next_header = (c->next_header + 3) & ~(uint64_t)3;
	c->state = IRD_SKIPIT;
	if (c->name_len == 0 || c->name_len > IRD_PATH_MAX) {
		c->skipped++;
		return 0;
	}
	if (S_ISLNK(c->mode)) {
		if (c->body_len > IRD_PATH_MAX) {
			c->skipped++;
			return 0;
		}
		/* always collected, never read in place (kernel) */
		c->collect = c->collected = c->symlink_buf;
		c->remains = IRD_N_ALIGN(c->name_len) + c->body_len;
		c->symlink_buf[c->remains] = '\0';
		c->next_state = IRD_GOTSYMLINK;
		c->state = IRD_COLLECT;
		(void)r;
		return 0;
	}
	/* Non-regular entries with data are skipped, name and all. */
	if (S_ISREG(c->mode) || !c->body_len)
		read_into(c, r, c->name_buf, IRD_N_ALIGN(c->name_len),
			  IRD_GOTNAME);
	else
		c->skipped++;
	return 0;
}

static int do_skip(struct ird_cpio *c, struct run *r)
{
	if (c->this_header + r->byte_count < c->next_header) {
		eat(c, r, r->byte_count);
		return 1;
	}
	eat(c, r, (size_t)(c->next_header - c->this_header));
	c->state = c->next_state;
	return 0;
}

static int do_reset(struct ird_cpio *c, struct run *r)
{
	while (r->byte_count && *r->victim == '\0')
		eat(c, r, 1);
	if (r->byte_count && (c->this_header & 3))
		error(c, "broken padding");
	return 1;
}

static int do_name(struct ird_cpio *c, struct run *r)
{
	const char *name = (const char *)c->collected;

	c->state = IRD_SKIPIT;
	c->next_state = IRD_RESET;
	/* Kernels with the late-2024 fix (also in stable updates) refuse
	 * this; older ones cut the name at the first NUL. */
	if (c->collected[c->name_len - 1] != '\0') {
		error(c, "malformed archive");
		return 1;
	}
	if (strcmp(name, "TRAILER!!!") == 0)
		return 0;
	c->want_data = c->ops->entry(c->ctx, name, (uint32_t)c->mode);
	if (S_ISREG(c->mode) && (c->want_data || c->csum_present)) {
		c->io_csum = 0;
		c->state = IRD_COPYFILE;
	}
	(void)r;
	return 0;
}

static int do_copy(struct ird_cpio *c, struct run *r)
{
	size_t n = c->body_len < r->byte_count ? (size_t)c->body_len :
						 r->byte_count;

	if (c->csum_present)
		for (size_t i = 0; i < n; i++)
			c->io_csum += r->victim[i];
	if (c->want_data && n)
		c->ops->data(c->ctx, r->victim, n);
	eat(c, r, n);
	c->body_len -= n;
	if (c->body_len)
		return 1;
	if (c->want_data)
		c->ops->data_end(c->ctx);
	c->want_data = 0;
	if (c->csum_present && c->io_csum != (uint32_t)c->hdr_csum) {
		error(c, "bad data checksum");
		return 1;
	}
	c->state = IRD_SKIPIT;
	return 0;
}

static int do_symlink(struct ird_cpio *c, struct run *r)
{
	if (c->collected[c->name_len - 1] != '\0') {
		error(c, "malformed archive");
		return 1;
	}
	c->ops->entry(c->ctx, (const char *)c->collected, (uint32_t)c->mode);
	c->state = IRD_SKIPIT;
	c->next_state = IRD_RESET;
	(void)r;
	return 0;
}

size_t ird_cpio_feed(struct ird_cpio *c, const uint8_t *buf, size_t len)
{
	static int (*const actions[])(struct ird_cpio *, struct run *) = {
		[IRD_START] = do_start, [IRD_COLLECT] = do_collect,
		[IRD_GOTHEADER] = do_header, [IRD_SKIPIT] = do_skip,
		[IRD_GOTNAME] = do_name, [IRD_COPYFILE] = do_copy,
		[IRD_GOTSYMLINK] = do_symlink, [IRD_RESET] = do_reset,
	};
	struct run r = { buf, len };

	if (c->msg)
		return 0;
	while (!actions[c->state](c, &r) && !c->msg)
		;
	return len - r.byte_count;
}

uint64_t ird_cpio_skippable(const struct ird_cpio *c)
{
	if (c->msg || c->state != IRD_SKIPIT)
		return 0;
	return c->next_header > c->this_header ?
	       c->next_header - c->this_header : 0;
}

void ird_cpio_skip(struct ird_cpio *c, uint64_t n)
{
	c->this_header += n;
	/* as do_skip() on reaching the next header, even at the very end */
	if (c->this_header == c->next_header)
		c->state = c->next_state;
}
