/*
 * net.c - the frame loop of bootshelf-aoed: receive a batch of requests,
 * let bs_aoe_decide() answer each for every target it addresses, point
 * each read reply at the sectors in the file's mapping (or, for a file
 * that could not be mapped, pread them into the reply buffer), and send
 * the replies as one batch.  All buffers are allocated when an interface
 * is opened; nothing is allocated per frame.
 *
 * Left out: asynchronous disk I/O.  Reads come from the page cache in
 * the common case (a booting fleet reads the same ISO); a cold read
 * blocks the loop for one disk access, which the initiators' windows
 * absorb.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bootshelf/log.h>

#include "aoed.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int aoed_net_open(struct aoed *d, const char *ifs)
{
	char *list = strdup(ifs), *save = NULL, *name;
	int r = 0;

	if (!list)
		return -ENOMEM;
	for (name = strtok_r(list, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		struct aoed_if *i, *n;
		int mtu;

		n = realloc(d->ifs, (d->nifs + 1) * sizeof(*d->ifs));
		if (!n) {
			r = -ENOMEM;
			goto out;
		}
		d->ifs = n;
		i = &d->ifs[d->nifs];
		memset(i, 0, sizeof(*i));
		i->fd = -1;
		if (strlen(name) >= sizeof(i->name)) {
			bs_err("%s: interface name too long", name);
			r = -ENAMETOOLONG;
			goto out;
		}
		strcpy(i->name, name);
		mtu = aoed_getmtu(name);
		if (mtu < 0 || (r = aoed_getea(name, i->mac)) < 0) {
			r = mtu < 0 ? mtu : r;
			bs_err("%s: %s", name, strerror(-r));
			goto out;
		}
		i->mtu = (unsigned)mtu;
		i->maxscnt = bs_aoe_mtu_sectors(i->mtu);
		if (d->maxsect && i->maxscnt > d->maxsect)
			i->maxscnt = d->maxsect;
		if (i->maxscnt == 0) {
			bs_err("%s: MTU %u is too small for AoE", name,
			       i->mtu);
			r = -EINVAL;
			goto out;
		}
		i->fd = aoed_dial(name, d->sockbuf);
		if (i->fd < 0) {
			r = i->fd;
			bs_err("%s: raw socket: %s", name, strerror(-r));
			goto out;
		}
		d->nifs++;
		/* frames up to the MTU; at least one full IDENTIFY reply */
		size_t cap = i->mtu + 14 < 14 + 1024 ? 14 + 1024 : i->mtu + 14;
		if ((r = aoed_batch_init(&i->rx, AOED_BATCH, cap)) < 0 ||
		    (r = aoed_batch_init(&i->tx, AOED_TXMAX, cap)) < 0)
			goto out;
		bs_info("%s: MTU %u, %u sectors per frame", name, i->mtu,
			i->maxscnt);
	}
	if (d->nifs == 0)
		r = -EINVAL;
out:
	free(list);
	return r;
}

void aoed_net_close(struct aoed *d)
{
	for (size_t k = 0; k < d->nifs; k++) {
		struct aoed_if *i = &d->ifs[k];
		struct tpacket_stats st;
		socklen_t l = sizeof(st);

		/* requests the kernel dropped because the socket was full
		 * (the initiator retransmits them): worth knowing when
		 * tuning -B and -b */
		if (i->fd >= 0 && getsockopt(i->fd, SOL_PACKET,
					     PACKET_STATISTICS, &st, &l) == 0)
			bs_info("%s: %u requests dropped by the kernel "
				"(socket buffer full)", i->name, st.tp_drops);
		if (d->ifs[k].fd >= 0)
			close(d->ifs[k].fd);
		aoed_batch_free(&d->ifs[k].rx);
		aoed_batch_free(&d->ifs[k].tx);
	}
	if (d->nifs)
		bs_info("%llu frames could not be sent",
			(unsigned long long)d->drops);
	free(d->ifs);
	d->ifs = NULL;
	d->nifs = 0;
}

/* Read one pending request on its own; on failure its reply becomes an
 * ATA error. */
static void read_one(struct aoed_if *i, const struct aoed_pend *p)
{
	uint8_t *reply = i->tx.iov[p->txi].iov_base;
	size_t want = (size_t)p->nsect * BS_AOE_SECTOR;
	ssize_t got = pread(p->t->fd, reply + p->off, want,
			    (off_t)(p->lba * BS_AOE_SECTOR));

	if (got < 0 || (size_t)got != want) {
		i->tx.iov[p->txi].iov_len = bs_aoe_read_failed(reply,
							       i->tx.framecap);
		p->t->read_errors++;	/* logged once a second by tick() */
	}
}

/* Do the pending reads: runs of requests for consecutive sectors of one
 * file (what a sequential reader with a window sends) become one
 * preadv straight into the reply frames. */
static void do_reads(struct aoed *d, struct aoed_if *i)
{
	struct iovec iov[AOED_TXMAX];
	unsigned a = 0;

	while (a < i->npend) {
		const struct aoed_pend *p = &i->pend[a];
		unsigned b = a;
		size_t total;
		ssize_t got;

		iov[0].iov_base = (uint8_t *)i->tx.iov[p->txi].iov_base +
				  p->off;
		iov[0].iov_len = total = (size_t)p->nsect * BS_AOE_SECTOR;
		while (b + 1 < i->npend && i->pend[b + 1].t == p->t &&
		       i->pend[b + 1].lba == i->pend[b].lba +
					     i->pend[b].nsect) {
			const struct aoed_pend *q = &i->pend[++b];
			iov[b - a].iov_base =
				(uint8_t *)i->tx.iov[q->txi].iov_base + q->off;
			iov[b - a].iov_len = (size_t)q->nsect * BS_AOE_SECTOR;
			total += iov[b - a].iov_len;
		}
		got = preadv(p->t->fd, iov, (int)(b - a + 1),
			     (off_t)(p->lba * BS_AOE_SECTOR));
		d->preads++;
		if (got < 0 || (size_t)got != total)
			for (unsigned k = a; k <= b; k++)
				read_one(i, &i->pend[k]);
		a = b + 1;
	}
	i->npend = 0;
}

static void flush(struct aoed *d, struct aoed_if *i)
{
	int r;

	do_reads(d, i);
	if (i->tx.n == 0)
		return;
	r = aoed_putpkts(i->fd, &i->tx, i->tx.n);
	if (r < 0) {
		bs_warn("%s: send: %s", i->name, strerror(-r));
		r = 0;
	}
	d->frames_out += (unsigned)r;
	d->drops += i->tx.n - (unsigned)r;
	i->tx.n = 0;
}

/* Answer one request frame for every target it addresses. */
static void answer(struct aoed *d, struct aoed_if *i, const uint8_t *req,
		   size_t len, int64_t now)
{
	uint16_t shelf;
	uint8_t slot;

	if (len < BS_AOE_HDR_LEN)
		return;
	shelf = (uint16_t)(req[16] << 8 | req[17]);
	slot = req[18];
	for (size_t k = 0; k < d->ntargets; k++) {
		struct aoed_target *t = d->targets[k];
		struct bs_aoe_action act;
		uint8_t *reply;

		/* cheap pre-filter; bs_aoe_decide checks it again */
		if ((shelf != t->shelf && shelf != BS_AOE_SHELF_ANY) ||
		    (slot != t->slot && slot != BS_AOE_SLOT_ANY))
			continue;
		if (i->tx.n == i->tx.max)
			flush(d, i);
		reply = i->tx.iov[i->tx.n].iov_base;
		t->t.maxscnt = (uint8_t)i->maxscnt;
		bs_aoe_decide(&t->t, i->mac, req, len, reply, i->tx.framecap,
			      &act);
		if (act.verdict == BS_AOE_IGNORE)
			continue;
		if (req[19] == BS_AOE_CMD_ATA)
			t->last_active = now;
		i->tx.data[i->tx.n].iov_len = 0;
		if (act.verdict == BS_AOE_READ && t->map) {
			/* decide() checked lba + nsect against the size */
			i->tx.iov[i->tx.n].iov_len = act.off;
			i->tx.data[i->tx.n].iov_base = (void *)(t->map +
				act.lba * BS_AOE_SECTOR);
			i->tx.data[i->tx.n].iov_len = (size_t)act.nsect *
						      BS_AOE_SECTOR;
			/* logged once a second by tick() */
			i->tx.faults[i->tx.n] = &t->read_errors;
			i->tx.n++;
			d->reads++;
			continue;
		}
		if (act.verdict == BS_AOE_READ) {
			struct aoed_pend *p = &i->pend[i->npend++];
			p->t = t;
			p->lba = act.lba;
			p->nsect = act.nsect;
			p->txi = i->tx.n;
			p->off = act.off;
			d->reads++;
		}
		i->tx.iov[i->tx.n].iov_len = act.len;
		i->tx.n++;
	}
}

int aoed_net_serve(struct aoed *d, struct aoed_if *i, int wait)
{
	for (int round = 0; round < 16; round++) {
		int n = aoed_getpkts(i->fd, &i->rx, wait && round == 0);
		int64_t now;

		if (n < 0)
			return n;
		if (n == 0) {
			flush(d, i);
			return 0;
		}
		now = aoed_now_ms();
		d->frames_in += (unsigned)n;
		for (int k = 0; k < n; k++)
			answer(d, i, i->rx.iov[k].iov_base,
			       i->rx.msg[k].msg_len, now);
		flush(d, i);
		if ((unsigned)n < i->rx.max)
			return 0;
	}
	return 1;
}

void aoed_net_announce(struct aoed *d, struct aoed_target *only)
{
	for (size_t k = 0; k < d->nifs; k++) {
		struct aoed_if *i = &d->ifs[k];

		for (size_t j = 0; j < d->ntargets; j++) {
			struct aoed_target *t = d->targets[j];
			size_t n;

			if (only && t != only)
				continue;
			if (t->t.sectors == 0)
				continue;
			if (i->tx.n == i->tx.max)
				flush(d, i);
			t->t.maxscnt = (uint8_t)i->maxscnt;
			/* with a mask list, announce only to those MACs */
			for (size_t m = 0; m < (t->nmasks ? t->nmasks : 1);
			     m++) {
				const uint8_t *dst = t->nmasks ? t->masks[m]
							       : bcast;
				uint8_t *f;

				if (i->tx.n == i->tx.max)
					flush(d, i);
				f = i->tx.iov[i->tx.n].iov_base;
				n = bs_aoe_announce(&t->t, i->mac, dst, f,
						    i->tx.framecap);
				if (n == 0)
					continue;
				i->tx.iov[i->tx.n].iov_len = n;
				i->tx.data[i->tx.n].iov_len = 0;
				i->tx.n++;
			}
		}
		flush(d, i);
	}
}
