/*
 * tftpd.h - internals shared by the parts of bootshelf-tftpd: the
 * daemon state (main.c), sockets (net.c) and transfers (session.c).
 *
 * Threading: none.  Everything runs in the one epoll loop of main.c.
 */
#ifndef BS_TFTPD_H
#define BS_TFTPD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <bootshelf/tftp.h>

#include "backend.h"

#define TFTPD_MAX_LISTEN 16

/* What an epoll event points at: a listener or a session. */
enum tftpd_kind { TFTPD_LISTENER = 1, TFTPD_SESSION };

struct tftpd_cfg {
	unsigned max_transfers;	/* 0 = no limit */
	unsigned timeout_us;	/* first retransmit timeout */
	unsigned retries;	/* retransmits before giving up */
	unsigned max_blksize;
	unsigned max_window;
	unsigned window_bytes;	/* cap of windowsize * blksize */
	int rollover;		/* block number after 65535: 0 or 1 */
	int remap_backslash;
	int refuse_busy;	/* at the limit: 1 reply ERROR, 0 drop */
};

struct tftpd_listener {
	enum tftpd_kind kind;	/* TFTPD_LISTENER */
	int fd;
	int family;
};

struct tftpd_session;

struct tftpd {
	struct tftpd_cfg cfg;
	const struct bs_tftpd_backend *be;	/* borrowed */
	void *bectx;
	int epfd;
	struct tftpd_listener listen[TFTPD_MAX_LISTEN];
	int nlisten;
	/* Live sessions: a list (dedup, shutdown) and a deadline heap. */
	struct tftpd_session *sessions;
	size_t nsessions;
	struct tftpd_session **heap;
	size_t nheap, capheap;
	int at_limit;		/* "limit reached" already logged */
	uint64_t now;		/* CLOCK_MONOTONIC ns, set per wakeup */
};

/* net.c */
int tftpd_parse_addr(const char *spec, struct sockaddr_storage *ss,
		     socklen_t *len);
int tftpd_listen(const struct sockaddr_storage *ss, socklen_t len);
int tftpd_listener_prepare(int fd, int *family);
int tftpd_peer_socket(int family, const struct sockaddr_storage *local,
		      const struct sockaddr_storage *peer, socklen_t plen);
void tftpd_addr_str(const struct sockaddr_storage *ss, char *buf,
		    size_t cap);
void tftpd_reply_error(int family, const struct sockaddr_storage *local,
		       const struct sockaddr_storage *peer, socklen_t plen,
		       int err, const char *msg);
void tftpd_listener_read(struct tftpd *d, struct tftpd_listener *l);

/* session.c */
uint64_t tftpd_now(void);
void tftpd_request(struct tftpd *d, struct tftpd_listener *l,
		   const uint8_t *pkt, size_t len,
		   const struct sockaddr_storage *peer, socklen_t plen,
		   const struct sockaddr_storage *local);
void tftpd_session_read(struct tftpd *d, struct tftpd_session *s);
/* Run expired timers; returns ms until the next one, -1 if none. */
int tftpd_timers(struct tftpd *d);
void tftpd_shutdown(struct tftpd *d);

#endif
