/*
 * aoed.h - internal interfaces of bootshelf-aoed, the read-only AoE
 * target: the raw Ethernet seam (linux.c), targets (target.c) and the
 * frame loop (net.c).  main.c holds flags, privileges and the epoll loop.
 */
#ifndef BOOTSHELF_AOED_H
#define BOOTSHELF_AOED_H

#include <net/if.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include <bootshelf/aoe.h>

/* ---- raw Ethernet seam (linux.c), after vblade's dial/getpkt/putpkt/
 * getea/getmtu ---------------------------------------------------------- */

#define AOED_BATCH	64	/* frames per recvmmsg */
#define AOED_TXMAX	128	/* replies queued before a sendmmsg */

/* A batch of frames: receive or send buffers of one interface.  One
 * allocation at start; nothing is allocated per frame.  A frame to send
 * is iov[i] (its buffer) followed by data[i] when data[i].iov_len is not
 * 0: sector data taken straight from a file mapping, copied once, by the
 * kernel, into the outgoing packet. */
struct aoed_batch {
	size_t framecap;	/* bytes per frame buffer */
	unsigned n;		/* frames in use */
	unsigned max;
	uint8_t *buf;		/* max * framecap bytes, owned */
	struct mmsghdr *msg;	/* max entries, owned */
	struct iovec *iov;
	struct iovec *data;	/* max entries, owned; send only */
	uint64_t **faults;	/* max entries, owned; send only: the
				 * counter to bump when data faults */
	struct iovec *pair;	/* 2 * max entries, owned; built to send */
	struct sockaddr_storage *addr;	/* sender and packet type */
};

/* Open a raw AoE socket bound to @ifname, non-blocking, with @bufbytes
 * of socket buffer each way.  Returns the fd or -errno. */
int aoed_dial(const char *ifname, int bufbytes);
/* Receive up to b->max frames into b; returns the count (0 when none
 * are waiting) or -errno.  Frames for other hosts are dropped.  With
 * @wait, block for the first frame up to the socket's receive timeout. */
int aoed_getpkts(int fd, struct aoed_batch *b, int wait);
/* Send b's first @n frames (lengths in iov, data in data); returns
 * frames sent or -errno.  Waits briefly when the socket buffer is full.
 * A frame whose data cannot be read (the mapped file was cut short under
 * us: the kernel's copy faults) is sent as an ATA error instead. */
int aoed_putpkts(int fd, struct aoed_batch *b, unsigned n);
/* The interface's MAC address; 0 or -errno. */
int aoed_getea(const char *ifname, uint8_t mac[6]);
/* The interface's MTU, or -errno. */
int aoed_getmtu(const char *ifname);

int aoed_batch_init(struct aoed_batch *b, unsigned max, size_t framecap);
void aoed_batch_free(struct aoed_batch *b);

/* ---- targets (target.c) ------------------------------------------------ */

/* One exported file.  The fd is the only handle on the file; a replaced
 * file (new inode) is switched to only after @idle_ms without ATA
 * requests, so an active client never sees a mix of old and new blocks. */
struct aoed_target {
	uint16_t shelf;
	uint8_t slot;
	char *path;		/* owned */
	int fd;			/* -1 while the file cannot be opened */
	const uint8_t *map;	/* whole file mapped read-only, or NULL
				 * (pread then); owned, only the kernel
				 * reads it (sendmmsg), so a file cut
				 * short gives EFAULT, never SIGBUS */
	size_t maplen;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int pending;		/* a different file is on disk */
	int64_t last_active;	/* ms, CLOCK_MONOTONIC */
	uint8_t (*masks)[6];	/* owned, may be NULL */
	size_t nmasks;
	uint8_t ident[512];
	struct bs_aoe_target t;	/* what the frame decision sees */
	int mark;		/* reload bookkeeping */
	int problem;		/* AOED_* below, last logged */
	uint64_t read_errors;	/* reads answered with an ATA error */
	uint64_t read_errors_logged;
};

/* What is wrong with a target's file, for the log and SIGUSR1. */
enum { AOED_OK, AOED_GONE, AOED_UNREADABLE, AOED_SHRANK, AOED_NOFILE };

/* A read waiting to be done before the replies go out: reads of one
 * batch are merged into one preadv when their sectors follow on. */
struct aoed_pend {
	struct aoed_target *t;
	uint64_t lba;
	unsigned nsect;
	unsigned txi;		/* reply frame index in tx */
	size_t off;		/* data offset in that frame */
};

struct aoed_if {
	char name[IF_NAMESIZE];
	int fd;
	uint8_t mac[6];
	unsigned mtu;
	unsigned maxscnt;	/* sectors per frame at this MTU */
	struct aoed_batch rx, tx;
	struct aoed_pend pend[AOED_TXMAX];
	unsigned npend;
};

struct aoed {
	struct aoed_target **targets;	/* owned */
	size_t ntargets;
	struct aoed_if *ifs;		/* owned */
	size_t nifs;
	unsigned bufcnt;		/* advertised outstanding requests */
	unsigned maxsect;		/* user cap on sectors per frame */
	int64_t idle_ms;		/* idle time before switching files */
	int sockbuf;			/* bytes */
	uint64_t frames_in, frames_out, reads, preads, drops;
};

int64_t aoed_now_ms(void);
int64_t aoed_now_us(void);

/* Make a target for @path as eS.L; opens the file.  NULL on allocation
 * failure; a file that cannot be opened gives a target with capacity 0
 * (answered "device unavailable") that is retried on every check. */
struct aoed_target *aoed_target_new(uint16_t shelf, uint8_t slot,
				    const char *path, unsigned bufcnt);
void aoed_target_free(struct aoed_target *t);
/* Replace the mask list (copied); 0 or -ENOMEM. */
int aoed_target_set_masks(struct aoed_target *t, const uint8_t (*m)[6],
			  size_t n);
/* Change the path (reload); the file is switched like a replacement. */
int aoed_target_set_path(struct aoed_target *t, const char *path);
/* Look at the file on disk; switch to a new file when the target has
 * been idle long enough.  Returns 1 if the target changed (announce). */
int aoed_target_check(struct aoed_target *t, int64_t now, int64_t idle_ms);
/* One line about @t's state for the SIGUSR1 report (no newline). */
void aoed_target_describe(const struct aoed_target *t, char *buf,
			  size_t cap);

/* ---- frames (net.c) ---------------------------------------------------- */

/* Open every interface named in @ifs ("eth0,eth1"); 0 or -errno. */
int aoed_net_open(struct aoed *d, const char *ifs);
void aoed_net_close(struct aoed *d);
/* Serve what is waiting on interface @i: a bounded number of batches,
 * so other interfaces get their turn; with @wait, block for the first
 * frame (see aoed_getpkts).  Returns 1 if more may be waiting, 0 if
 * drained, -errno on a socket error. */
int aoed_net_serve(struct aoed *d, struct aoed_if *i, int wait);
/* Broadcast a Config response for @t (or every target if NULL) on every
 * interface. */
void aoed_net_announce(struct aoed *d, struct aoed_target *t);

#endif
