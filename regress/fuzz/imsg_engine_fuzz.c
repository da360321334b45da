/*
 * Copyright (c) 2026 The gatewayd developers
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * libFuzzer target: the engine's imsg receivers (parent_handlers and
 * authd_handlers in gatewayd/engine.c) and the engine behind them;
 * engine.c, control.c and logsum.c are included for their statics (log.c
 * and common/proc.c by imsg_fuzz.c, with what the imsg targets share).
 * Each input runs engine_main over socketpairs for the parent's pipe and
 * authd's: we compose on our ends (imsg_compose) and the engine's own
 * read path (libevent, imsgev_event, imsg_dispatch) takes it.  We are
 * the parent, authd and 4 clients (components on TCP to the listeners
 * we passed, gatewayctl on the control sockets), from a timer in the
 * engine's loop (fz_feed): a record (fz_op), then rounds of the loop.
 * log.c's exit longjmps back; fz_teardown frees it all.
 *
 * It aborts ("ORACLE: ") on a fatal no broken sibling explains; an exit
 * before the engine was told to stop; a message that the parent's or
 * authd's table (gatewayd.c child_handlers, authd.c engine_handlers)
 * does not take, by type or size, or with a descriptor; pings and
 * reconfigurations not answered once each, in order; authd asked twice
 * for a connection or with a domain it refuses, a handshake before the
 * stream id or twice, a connection forgotten twice or never asked for;
 * <handshake/> to a component authd did not approve; a log line with a
 * digest a peer sent; a descriptor left open.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <event.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "proc.h"
#include "util.h"
#include "xml.h"
#include "imsg_fuzz.h"

/* SIGINT and SIGTERM stay libFuzzer's; SIGPIPE is ignored already. */
static void		fz_child_setup(enum gw_proc, const char *,
			    const char *);
static __dead void	fz_exit(int);
#define proc_child_setup	fz_child_setup
#define exit(x)			fz_exit(x)
#define signal(s, h)		((void)0)
#define imsg_get_fd		fz_imsg_get_fd
#include "../../gatewayd/engine.c"
#include "../../gatewayd/engine_auth.c"
#include "../../gatewayd/engine_uplink.c"
#include "../../gatewayd/uplink.c"
#undef proc_child_setup
#undef exit
#undef signal
#define iev_parent	ctl_iev_parent
#define iev_authd	ctl_iev_authd
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"	/* engine.c's counts */
#include "../../gatewayd/control.c"
#pragma GCC diagnostic pop
#undef iev_parent
#undef iev_authd
#undef imsg_get_fd
#include "../../common/logsum.c"

#define FZ_OPS		64	/* records acted on, at most */
#define FZ_SETTLE	3	/* rounds of the loop after each */
#define FZ_CLIENTS	4
#define FZ_IDS		(2 * FZ_OPS)
#define FZ_HEXLEN	(2 * GW_DIGEST_LEN + 1)
#define FZ_NAME(b)	fz_names[(b) % nitems(fz_names)]

enum { CH_PARENT = FZ_PARENT, CH_AUTHD = FZ_SIBLING, CH_MAX = FZ_PIPES };

union fz_buf {
	uint8_t			 b[FZ_PAYLOAD];
	struct gw_global	 g;
	struct gw_listen_conf	 lc;
	struct gw_component_conf cc;
	struct gw_alias_conf	 ac;
	struct gw_ctl_line	 cl;
	struct gw_ctl_end	 ce;
	struct gw_ping		 ping;
	struct gw_auth_stream	 req;
	struct gw_auth_streamid	 sid;
	struct gw_auth_result	 res;
	struct gw_authd_stats	 st;
	struct gw_upstream_conf	 up;
	struct gw_uplink_req	 ureq;
	struct gw_uplink_conn	 uc;
	struct gw_uplink_digest	 ud;
	struct gw_uplink_answer	 ua;
};

/* A connection id as the fake authd knows it, or a control one (ctl). */
struct fz_conn {
	uint64_t	 id;
	uint16_t	 port;		/* of its peer, network order */
	int		 ctl, asked, handshakes, forgets, approved, sid;
};

struct fz_client {
	int		 fd, ctl;	/* -1: free; gatewayctl */
	uint16_t	 port;		/* its own, network order */
	struct fz_conn	*conn;		/* once the engine asked for it */
	struct imsgbuf	 ibuf;
	char		 last[16];	/* the last bytes it read */
};

static struct {
	int		 finishing, idle, nops;
	struct event	 feeder;
	struct fz_client cl[FZ_CLIENTS];
	struct fz_conn	 conns[FZ_IDS];
	int		 nconns, nlsn, nsun;
	struct sockaddr_in lsn[4];
	struct sockaddr_un sun[CONTROL_SOCK_MAX];
	uint64_t	 replies[FZ_OPS];	/* due: a PONG's seq, FZ_ACK */
	int		 nreplies, nreplied, off[CH_MAX], nhexes;
	char		 hexes[16][FZ_HEXLEN];
	uint32_t	 sidseq;
} fz;

static const char *fz_names[] = {
	"a.example", "b.example", "alias-a.example", "c.example",
	"A.Example.", "nope.example", "gw.example", "192.0.2.1"
};

/*
 * What authd.c's table takes (the parent's is in imsg_fuzz.c), and
 * fz_gives what the engine's take.
 */
static const struct fz_type fz_takes[] = {
	{ CH_AUTHD, IMSG_AUTH_STREAM, sizeof(struct gw_auth_stream) },
	{ CH_AUTHD, IMSG_AUTH_HANDSHAKE, sizeof(struct gw_auth_handshake) },
	{ CH_AUTHD, IMSG_AUTH_FORGET, sizeof(struct gw_auth_forget) },
	{ CH_AUTHD, IMSG_CTL_AUTHD_STATS, sizeof(struct gw_ctl_req) },
	{ CH_AUTHD, IMSG_UPLINK_DIGEST, sizeof(struct gw_uplink_digest) }
}, fz_gives[] = {
	{ CH_PARENT, IMSG_RECONF_START, sizeof(struct gw_global) },
	{ CH_PARENT, IMSG_RECONF_LISTENER, sizeof(struct gw_listen_conf) },
	{ CH_PARENT, IMSG_RECONF_COMPONENT, sizeof(struct gw_component_conf) },
	{ CH_PARENT, IMSG_RECONF_ALIAS, sizeof(struct gw_alias_conf) },
	{ CH_PARENT, IMSG_RECONF_DONE, 0 },
	{ CH_PARENT, IMSG_PING, sizeof(struct gw_ping) },
	{ CH_PARENT, IMSG_RECONF_CONTROL, sizeof(struct gw_control_conf) },
	{ CH_PARENT, IMSG_CTL_LINE, sizeof(struct gw_ctl_line) },
	{ CH_PARENT, IMSG_CTL_END, sizeof(struct gw_ctl_end) },
	{ CH_AUTHD, IMSG_AUTH_STREAMID, sizeof(struct gw_auth_streamid) },
	{ CH_AUTHD, IMSG_AUTH_RESULT, sizeof(struct gw_auth_result) },
	{ CH_AUTHD, IMSG_CTL_AUTHD_STATS, sizeof(struct gw_authd_stats) },
	/* Later additions go last: the corpora mean what they meant. */
	{ CH_PARENT, IMSG_RECONF_UPSTREAM, sizeof(struct gw_upstream_conf) },
	{ CH_PARENT, IMSG_UPLINK_FD, sizeof(struct gw_uplink_conn) },
	{ CH_PARENT, IMSG_UPLINK_FAILED, sizeof(struct gw_uplink_conn) },
	{ CH_AUTHD, IMSG_UPLINK_ANSWER, sizeof(struct gw_uplink_answer) }
};

static const struct gw_global fz_sane = {
	.name = "gw.example", .max_conns = 8, .max_unauth = 4,
	.max_unauth_per_addr = 4, .max_preauth = 4096, .max_stanza = 10000,
	.max_depth = 16, .max_attrs = 32, .handshake_timeout = 30,
	.idle_timeout = 60, .max_queue = 65536, .queue_timeout = 10,
	.flap_max = 3, .flap_window = 20, .flap_holddown = 30
};

/* A log line, in lower case: no digest a peer sent. */
static void
fz_line(const char *buf __unused, const char *low)
{
	int	k;

	for (k = 0; k < fz.nhexes; k++)
		if (strstr(low, fz.hexes[k]) != NULL)
			breach("a log line with a digest: %s", low);
}

/* A fatal, in lower case: the loop's end, or what a sibling sent. */
static int
fz_fatal(int code, const char *msg)
{
	static const char *const	why[] = {
		"^unexpected message ", " from the parent: ", " from authd: ",
		"^imsgbuf_read from ", "^imsgbuf_get from ", ": bad string",
		" outside a reconfiguration", "^auth_streamid: bad id",
		"^alias ", "^name ", "^no socket for listener ",
		"^reconf_control without a socket", "^control_listen: more ",
		"^component ", "^reconf_upstream: id 0",
		"^uplink_fd without a descriptor", "^uplink_answer: bad digest"
	};
	char				m[1024];

	fz_lower(m, msg, sizeof(m));
	if (fz.finishing && strcmp(m, "event loop ended") == 0)
		return (FZ_DONE);
	if (code != 1 || !fz_designed(m, why, nitems(why)))
		breach("a fatal no broken sibling explains: %s", m);
	return (FZ_FATAL);
}

static void	fz_feed(int, short, void *);

/* The bring-up is done, the event base is there: we start. */
static void
fz_child_setup(enum gw_proc role __unused, const char *user __unused,
    const char *chrootdir __unused)
{
	evtimer_set(&fz.feeder, fz_feed, NULL);
	fz_feed(-1, 0, NULL);
}

static __dead void
fz_exit(int code)
{
	if (!fz_armed || !shutting_down || code != 0)
		breach("the engine exits (%d) unasked", code);
	longjmp(fz_jmp, FZ_EXIT);
}

/* 0 a TCP listener (at sin), 1 socketpair, 2 pipe, 3 /dev/null, 4 ctl. */
static int
fz_make_fd(int kind, struct sockaddr_in *sin)
{
	struct sockaddr_un	*sun = &fz.sun[fz.nsun];
	socklen_t		 len = sizeof(*sin);
	int			 fd;

	if ((kind == 0 && fz.nlsn == nitems(fz.lsn)) ||
	    (kind == 4 && fz.nsun == CONTROL_SOCK_MAX))
		kind = 3;
	if (kind == 0 || kind == 4) {
		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
		    "gw-fuzz-%d-%d", (int)getpid(), fz.nsun);
		if ((fd = socket(kind ? AF_UNIX : AF_INET, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 || (kind ?
		    bind(fd, (void *)sun, sizeof(*sun)) : bind(fd,
		    (void *)sin, sizeof(*sin))) == -1 ||
		    listen(fd, 128) == -1 ||
		    getsockname(fd, (void *)sin, &len) == -1)
			abort();
		if (kind == 0)
			fz.lsn[fz.nlsn++] = *sin;
		else
			fz.nsun++;
		return (fd);
	}
	return (fz_passfd(kind - 1));
}

static struct fz_conn *
fz_conn_get(uint64_t id, int ctl)
{
	int	i;

	for (i = 0; i < fz.nconns; i++)
		if (fz.conns[i].id == id && fz.conns[i].ctl == ctl)
			return (&fz.conns[i]);
	if (fz.nconns == FZ_IDS)
		breach("more connection ids than we follow");
	memset(&fz.conns[fz.nconns], 0, sizeof(fz.conns[0]));
	fz.conns[fz.nconns].id = id;
	fz.conns[fz.nconns].ctl = ctl;
	return (&fz.conns[fz.nconns++]);
}

/* A connection id, or a control one: asked about, alive, past all, odd. */
static uint64_t
fz_pick_id(int ctl)
{
	struct conn	*c;
	uint64_t	 max = 0;
	uint8_t		 s = fz_byte();
	int		 i, k = 0, n = 0;

	for (c = conn_first(); !ctl && c != NULL; c = conn_next(c), n++) {
		if ((s & 3) == 1 && n == (s >> 2) % 8)
			return (conn_id(c));
		max = conn_id(c) > max ? conn_id(c) : max;
	}
	if ((s & 3) == 3)
		return ((s & 4) ? UINT64_MAX : 0);
	for (i = 0; i < fz.nconns; i++) {
		if (fz.conns[i].ctl != ctl)
			continue;
		if ((s & 3) == 0 && k++ == (s >> 2) % 8)
			return (fz.conns[i].id);
		max = fz.conns[i].id > max ? fz.conns[i].id : max;
	}
	return (max + 1 + (s >> 2));
}

/* A message to the engine, and what it means for the oracles. */
static void
fz_send(int chn, uint32_t type, uint32_t peerid, int fd, const void *data,
    size_t len)
{
	const union fz_buf	*u = data;

	if (fz_compose(chn, type, peerid, fd, data, len) == -1)
		return;
	/* A descriptor: fatal from the parent; authd's pipe drops it. */
	if (fd != -1 && chn == CH_PARENT)
		return;
	if (chn == CH_PARENT && ((type == IMSG_PING &&
	    len == sizeof(struct gw_ping)) ||
	    (type == IMSG_RECONF_DONE && len == 0))) {
		fz.replies[fz.nreplies++] = type == IMSG_PING ? u->ping.seq :
		    FZ_ACK;
	} else if (chn == CH_AUTHD && type == IMSG_AUTH_STREAMID &&
	    len == sizeof(u->sid) && u->sid.id[0] != '\0')
		fz_conn_get(u->sid.conn_id, 0)->sid = 1;
	else if (chn == CH_AUTHD && type == IMSG_AUTH_RESULT &&
	    len == sizeof(u->res) && u->res.verdict == AUTH_OK)
		fz_conn_get(u->res.conn_id, 0)->approved = 1;
}

/*
 * A message the engine takes, from a few bytes: mode & 3 0 or 1 built
 * (0: odd limits), 2 raw, 3 a wrong size; mode >> 2 & 7 4-7 a listener
 * (none if the type takes a socket), socketpair, pipe, /dev/null, 0-3
 * none (a new socket of its kind if it takes one); 0xc0 a peer id.
 */
static void
op_msg(const struct fz_type *t)
{
	union fz_buf		u;
	struct sockaddr_in	sin;
	uint8_t			mode = fz_byte(), b = fz_byte(), r[16];
	int			sel = (mode >> 2) & 7, fd = -1;
	int			takes = t->type == IMSG_RECONF_LISTENER ||
				    t->type == IMSG_RECONF_CONTROL ||
				    t->type == IMSG_UPLINK_FD;
	size_t			len = t->len, i;

	memset(&u, 0, sizeof(u));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1 + b);
	if (fz.nlsn > 0 && !(b & 0x80))
		sin = fz.lsn[b % fz.nlsn];	/* a listener it has */
	if (sel > 4 || (sel == 4 && !takes))
		fd = fz_make_fd(sel - 4, &sin);
	else if (sel < 4 && takes)
		fd = fz_make_fd(t->type == IMSG_RECONF_CONTROL ? 4 :
		    t->type == IMSG_UPLINK_FD ? 1 : 0, &sin);
	switch (t->type) {
	case IMSG_RECONF_START:
		u.g = fz_sane;
		u.g.verbose = b % 3;
		if (mode & 3)
			break;
		u.g.max_unauth_per_addr = b % 5;
		u.g.max_preauth = 64 << ((b >> 2) % 8);
		u.g.handshake_timeout = (b & 0x20) ? 30 : 0;
		u.g.max_queue = (b & 0x40) ? 65536 : 64;
		break;
	case IMSG_RECONF_LISTENER:
		memcpy(&u.lc.ss, &sin, sizeof(sin));
		u.lc.id = b >> 4;
		break;
	case IMSG_RECONF_COMPONENT:
		strlcpy(u.cc.name, FZ_NAME(b), sizeof(u.cc.name));
		u.cc.id = (b >> 3) % 4;
		b = fz_byte();
		u.cc.flags = (b & 1) ? GW_COMP_DEFAULT_ROUTE : 0;
		u.cc.conflict = (b >> 1) % 3;
		u.cc.max_stanza = (b & 8) ? 100 << ((b >> 4) % 8) : 0;
		u.cc.upstream_id = (b & 0x80) ? 1 + ((b >> 4) & 1) : 0;
		break;
	case IMSG_RECONF_UPSTREAM:
		strlcpy(u.up.name, FZ_NAME(b), sizeof(u.up.name));
		u.up.id = (b >> 3) % 3;
		u.up.grace = (b >> 5) % 3;
		u.up.grace_size = (b & 1) ? 4096 : 1 << 20;
		u.up.addr_hash = b >> 6;
		break;
	case IMSG_UPLINK_FD:
	case IMSG_UPLINK_FAILED:
		strlcpy(u.uc.domain, FZ_NAME(b), sizeof(u.uc.domain));
		u.uc.seq = b >> 5;
		memcpy(&u.uc.peer, &sin, sizeof(sin));
		strlcpy(u.uc.error, "connect to it: refused",
		    sizeof(u.uc.error));
		break;
	case IMSG_UPLINK_ANSWER:
		/* A digest as authd makes them, none, or not hex. */
		u.ua.conn_id = fz_pick_id(0);
		for (i = 0; i < sizeof(r); i++)
			r[i] = (uint8_t)(b * 37 + i);
		hex_encode(r, sizeof(r), u.ua.hex);
		memcpy(u.ua.hex + 2 * sizeof(r), u.ua.hex, 8);
		if (b & 2)
			u.ua.hex[0] = '\0';
		if ((b & 0x30) == 0x30)
			u.ua.hex[5] = 'G';
		if (u.ua.hex[0] != '\0' && fz.nhexes < (int)nitems(fz.hexes))
			strlcpy(fz.hexes[fz.nhexes++], u.ua.hex, FZ_HEXLEN);
		break;
	case IMSG_RECONF_ALIAS:
		strlcpy(u.ac.name, FZ_NAME(b), sizeof(u.ac.name));
		u.ac.component_id = (b >> 4) % 5;
		break;
	case IMSG_CTL_LINE:
	case IMSG_CTL_END:
		u.cl.ctl_id = fz_pick_id(1);
		strlcpy(t->type == IMSG_CTL_LINE ? u.cl.line : u.ce.message,
		    FZ_NAME(b), sizeof(u.ce.message));
		if (t->type == IMSG_CTL_END)
			u.ce.status = b >> 6;
		break;
	case IMSG_AUTH_STREAMID:
		/* As authd makes them, or none, too short, not hex. */
		u.sid.conn_id = fz_pick_id(0);
		for (i = 0, fz.sidseq++; i < sizeof(r); i++)
			r[i] = (uint8_t)(fz.sidseq * 131 + i * 29 + b);
		hex_encode(r, sizeof(r), u.sid.id);
		if (b & 2)
			u.sid.id[(b & 1) ? 31 : 0] = '\0';
		if ((b & 0x30) == 0x30)
			u.sid.id[3] = '\'';
		break;
	case IMSG_AUTH_RESULT:
		u.res.conn_id = fz_pick_id(0);
		u.res.verdict = (b & 3) < 2 ? AUTH_OK : (b & 3) == 2 ?
		    AUTH_DENIED : (b & 4) ? -1 : 2 + (b >> 3);
		break;
	case IMSG_CTL_AUTHD_STATS:
		u.st.ctl_id = fz_pick_id(1);
		u.st.throttled = b;
		break;
	default:	/* PING, RECONF_CONTROL */
		u.b[0] = b;
		u.b[1] = fz_byte();
		break;
	}
	len = fz_shape(mode, u.b, len);
	fz_send(t->chn, t->type, fz_peerid(mode), fd, u.b, len);
}

/* Any type, any size, on either pipe; or bytes of no message. */
static void
op_any(int chn, int raw)
{
	union fz_buf		u;
	struct sockaddr_in	sin;
	uint8_t			mode = fz_byte();
	uint32_t		type;
	size_t			len = fz_any(&type, u.b);

	if (!raw)
		fz_send(chn, type, 0, ((mode >> 2) & 7) >= 4 ?
		    fz_make_fd(((mode >> 2) & 7) - 4, &sin) : -1, u.b, len);
	else if (fz_pipes[chn].fd != -1) {
		fz_flush(chn);
		/* What follows may read as anything: the mirror is off. */
		(void)write(fz_pipes[chn].fd, u.b, len);
		fz.off[chn] = 1;
	}
}

static void
fz_client_close(struct fz_client *cl)
{
	if (cl->fd != -1) {
		imsgbuf_clear(&cl->ibuf);
		close(cl->fd);
	}
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

static void
fz_connect(struct fz_client *cl, uint8_t b)
{
	struct sockaddr_in	sin;
	struct pollfd		pfd;
	socklen_t		len = sizeof(sin);
	int			ctl = b & 1, fd;

	if ((ctl ? fz.nsun : fz.nlsn) == 0)
		return;
	fz_client_close(cl);
	if ((fd = socket(ctl ? AF_UNIX : AF_INET, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		abort();
	sin = fz.lsn[(b >> 1) % (fz.nlsn + !fz.nlsn)];
	pfd.fd = fd;
	pfd.events = POLLOUT;
	/* Done at once on loopback, while the backlog has room. */
	if (((ctl ? connect(fd, (void *)&fz.sun[(b >> 1) % (fz.nsun +
	    !fz.nsun)], sizeof(fz.sun[0])) : connect(fd, (void *)&sin,
	    sizeof(sin))) == -1 && (errno != EINPROGRESS ||
	    poll(&pfd, 1, 100) != 1)) || getsockname(fd, (void *)&sin,
	    &len) == -1 || imsgbuf_init(&cl->ibuf, fd) == -1) {
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->ctl = ctl;
	cl->port = sin.sin_port;
}

/* A component's header, handshake, stanza or bytes; gatewayctl's ask. */
static void
op_client(struct fz_client *cl, int what)
{
	char			 buf[512], hex[FZ_HEXLEN];
	uint8_t			 b = fz_byte(), d[GW_DIGEST_LEN];
	uint32_t		 x = b;
	size_t			 i;
	int			 n;

	/* gatewayctl: what needs the parent or authd, who answer by id. */
	if (cl->ctl && (imsg_compose(&cl->ibuf, (b & 1) ? CTL_RELOAD :
	    CTL_SHOW_SUMMARY, GW_CTL_VERSION, 0, -1, NULL, 0) == -1 ||
	    imsgbuf_write(&cl->ibuf) == -1))
		fz_client_close(cl);
	if (cl->ctl)
		return;
	if (what == 0)
		n = snprintf(buf, sizeof(buf), "<?xml version='1.0'?>"
		    "<stream:stream xmlns='" NS_COMPONENT "' xmlns:stream='"
		    NS_STREAMS "'%s to='%s'>", (b & 0x80) ?
		    " xmlns:foo='urn:foo' xml:lang='en'" : "",
		    FZ_NAME(b & 0x7f));
	else if (what == 1) {
		for (i = 0; i < sizeof(d); i++)
			d[i] = (x = x * 1103515245 + 12345 + fz_byte()) >> 24;
		hex_encode(d, sizeof(d), hex);
		if (fz.nhexes < (int)nitems(fz.hexes))
			memcpy(fz.hexes[fz.nhexes++], hex, sizeof(hex));
		for (i = 0; (b & 1) && hex[i] != '\0'; i++)
			hex[i] = toupper((unsigned char)hex[i]);
		n = snprintf(buf, sizeof(buf), "<handshake>%s</handshake>",
		    hex);
	} else if (what == 2)
		n = snprintf(buf, sizeof(buf), "<%s from='u@%s' to='v@%s'%s/>",
		    (b & 3) ? "message" : "iq", FZ_NAME(b >> 2),
		    FZ_NAME(b >> 5), (b & 3) == 1 ? " type='error'" :
		    (b & 3) ? "" : " type='get' id='q'");
	else
		fz_bytes(buf, n = b % 128);
	if (cl->fd != -1)
		(void)write(cl->fd, buf, n);
}

/*
 * A record: op % 32 0-11 and 21-27 a message (op_msg), 28-31 one of the
 * uplink's, 12-13 any type, 14-15 bytes of none, to the parent, authd;
 * 16 a pipe closed, 17 the tick; a client's (the next byte) 18 connect,
 * 19 bytes, 20 close.
 */
static void
fz_op(void)
{
	struct fz_client	*cl;
	uint8_t			 op = fz_byte() % 32, b;

	if (op >= 28)
		op_msg(&fz_gives[12 + op - 28]);
	else if (op < 12 || op > 20)
		op_msg(&fz_gives[op % 12]);
	else if (op < 16)
		op_any(op & 1, op >= 14);
	else if (op == 16) {
		b = fz_byte() & 1;
		fz_pipe_close(b);
		fz.off[CH_PARENT] |= b == CH_PARENT;
	} else if (op == 17)
		engine_tick(-1, 0, NULL);
	else {
		b = fz_byte();
		cl = &fz.cl[b % FZ_CLIENTS];
		if (op == 18)
			fz_connect(cl, b >> 2);
		else if (op == 19)
			op_client(cl, (b >> 2) % 4);
		else
			fz_client_close(cl);
	}
}

static void
fz_got_auth(uint32_t type, const union fz_buf *u)
{
	struct sockaddr_in	 sin;
	struct fz_conn		*c;
	int			 i;

	/* The connection id, or the control one, leads each. */
	if ((c = fz_conn_get(u->req.conn_id, type ==
	    IMSG_CTL_AUTHD_STATS))->ctl || fz.off[CH_AUTHD])
		return;
	if (type == IMSG_AUTH_STREAM) {
		if (!memchr(u->req.domain, '\0', sizeof(u->req.domain)) ||
		    u->req.domain[0] == '\0' || c->asked++ > 0)
			breach("AUTH_STREAM for connection %llu: %s",
			    (unsigned long long)c->id, c->asked > 1 ? "again" :
			    "a domain authd refuses");
		memcpy(&sin, &u->req.peer, sizeof(sin));
		c->port = sin.sin_family == AF_INET ? sin.sin_port : 0;
		for (i = 0; i < FZ_CLIENTS; i++)
			if (fz.cl[i].fd != -1 && !fz.cl[i].ctl &&
			    fz.cl[i].conn == NULL && fz.cl[i].port == c->port)
				fz.cl[i].conn = c;
	} else if (type == IMSG_AUTH_FORGET) {
		if (!c->asked || c->forgets++ > 0)
			breach("AUTH_FORGET for connection %llu %s",
			    (unsigned long long)c->id, c->asked ? "again" :
			    "that never asked");
	} else if (!c->asked || !c->sid || c->handshakes++ > 0)
		breach("AUTH_HANDSHAKE for connection %llu: %s",
		    (unsigned long long)c->id, c->handshakes > 1 ? "again" :
		    "before its stream id");
}

/* What the engine wrote to the parent or authd, as the tables say. */
static void
fz_got(int chn, uint32_t type, const void *data)
{
	const union fz_buf	*u = data;

	if (chn == CH_AUTHD && type == IMSG_UPLINK_DIGEST) {
		if (!memchr(u->ud.domain, '\0', sizeof(u->ud.domain)) ||
		    !memchr(u->ud.stream_id, '\0', sizeof(u->ud.stream_id)))
			breach("UPLINK_DIGEST with a string unended");
	} else if (chn == CH_PARENT && type == IMSG_UPLINK_CONNECT) {
		if (!memchr(u->ureq.domain, '\0', sizeof(u->ureq.domain)) ||
		    u->ureq.upstream_id == 0)
			breach("UPLINK_CONNECT for no uplink");
	} else if (chn == CH_AUTHD || type == IMSG_CTL_RELOAD)
		fz_got_auth(chn == CH_AUTHD ? type : IMSG_CTL_AUTHD_STATS, u);
	else if (chn == CH_PARENT && type != IMSG_LOG &&
	    type != IMSG_CTL_VERBOSE && !fz.off[CH_PARENT] &&
	    (fz.nreplied == fz.nreplies || (type == IMSG_PONG ?
	    u->ping.seq : FZ_ACK) != fz.replies[fz.nreplied++]))
		breach("an answer to the parent unasked or out of order (%u)",
		    type);
}

/*
 * The engine's connection for a client, when the fake authd has not yet
 * read the engine's AUTH_STREAM for it (a result may have been sent for
 * an id picked from the engine's own): NULL when it is gone too.
 */
static struct fz_conn *
fz_client_conn(struct fz_client *cl)
{
	const struct sockaddr_in	*sin;
	struct conn			*c;

	for (c = conn_first(); cl->conn == NULL && c != NULL;
	    c = conn_next(c)) {
		sin = (const struct sockaddr_in *)conn_peer(c);
		if (sin->sin_family == AF_INET && sin->sin_port == cl->port)
			cl->conn = fz_conn_get(conn_id(c), 0);
	}
	return (cl->conn);
}

/* <handshake/> to a component once authd approved it, not before. */
static void
fz_read_client(struct fz_client *cl)
{
	char	buf[4096 + sizeof(cl->last)];
	size_t	keep = sizeof(cl->last);
	ssize_t	n;

	memcpy(buf, cl->last, keep);
	while (!cl->ctl && cl->fd != -1 &&
	    (n = read(cl->fd, buf + keep, 4096)) > 0) {
		if (memmem(buf, keep + n, "<handshake/>", 12) != NULL &&
		    !fz.off[CH_AUTHD] && fz_client_conn(cl) != NULL &&
		    !cl->conn->approved)
			breach("<handshake/> to a component authd did not "
			    "approve");
		memcpy(cl->last, buf + n, keep);
		memcpy(buf, cl->last, keep);
	}
}

/* A record, then rounds of the loop; at the end, the loop ends. */
static void
fz_feed(int fd __unused, short event __unused, void *arg __unused)
{
	struct timeval	tv = { 0, 0 };
	int		i;

	for (i = 0; i < CH_MAX; i++) {
		fz_flush(i);
		if (fz_read(i) == -1)
			breach("the pipe to %s: closed", fz_target.peer[i]);
	}
	for (i = 0; i < FZ_CLIENTS; i++)
		fz_read_client(&fz.cl[i]);
	if (fz.idle > 0)
		fz.idle--;
	else if (fz_left() > 0 && fz.nops++ < FZ_OPS) {
		fz_op();
		fz.idle = FZ_SETTLE;
	} else if (!fz.finishing) {
		fz.finishing = 1;
		fz.idle = FZ_SETTLE;
	} else {
		if (!fz.off[CH_PARENT] && fz.nreplied < fz.nreplies)
			breach("the parent's question %d of %d unanswered",
			    fz.nreplied + 1, fz.nreplies);
		event_loopbreak();
		return;
	}
	evtimer_add(&fz.feeder, &tv);
}

/*
 * As a fresh process: connections closed, an empty configuration, the
 * statics of the files included as at exec, the event base gone (and,
 * by imsg_fuzz.c, the pipes).
 * Ids and counters of the layers built apart (conn.c) go on counting.
 */
static void
fz_teardown(void)
{
	static const struct gw_global	 g0;
	static const struct conn_limits	 l0;
	struct event			*evs[] = { &ev_tick, &ev_shutdown,
					    &fz.feeder };
	struct control_conn		*cc;
	struct logsum			*ls;
	struct conn			*c;
	size_t				 i;
	int				 n = 0;

	shutting_down = 0;
	while ((c = conn_first()) != NULL) {
		if (n++ > 1000)
			breach("a connection that does not close");
		conn_close(c);
	}
	conn_flush_all();
	router_stage_begin();
	router_stage_commit(&g0);
	listener_stage_begin();
	listener_commit();
	while ((cc = TAILQ_FIRST(&conns)) != NULL)
		control_close(cc);
	for (i = 0; i < nsocks; i++) {
		event_del(&socks[i].ev);
		evtimer_del(&socks[i].pause);
		close(socks[i].fd);
	}
	while ((ls = TAILQ_FIRST(&ages)) != NULL) {
		RB_REMOVE(logsums, &sums, ls);
		TAILQ_REMOVE(&ages, ls, age);
		free(ls);
	}
	for (i = 0; i < nitems(evs); i++)
		if (event_initialized(evs[i]))
			evtimer_del(evs[i]);
	/* uplink.c's, as at exec: its timers go before the event base. */
	uplinks_free(&running);
	uplink_stage_begin();
	stopping = 0;
	proc_log_detach(&iev_parent.ibuf);
	imsgev_clear(&iev_parent);
	imsgev_clear(&iev_authd);
	event_base_free(NULL);
	for (i = 0; i < nitems(evs); i++)
		memset(evs[i], 0, sizeof(*evs[i]));
	memset(&counts, 0, sizeof(counts));
	memset(&stream_limits, 0, sizeof(stream_limits));
	memset(socks, 0, sizeof(socks));
	global = staged_global = g0;
	staging = authd_gone = parent_waits = 0;
	nsocks = nsums = 0;
	conn_set_limits(&l0);
	conn_set_fd_limit(1024, 16);
	for (i = 0; i < FZ_CLIENTS; i++)
		fz_client_close(&fz.cl[i]);
}

static void
fz_start(void)
{
	int	i;

	memset(&fz, 0, sizeof(fz));
	for (i = 0; i < FZ_CLIENTS; i++)
		fz.cl[i].fd = -1;
}

static void
fz_run(void)
{
	engine_main(0, 0, "nobody", "/");
}

const struct fz_target fz_target = {
	"imsg_engine_fuzz", "the engine", "engine", { "the parent", "authd" },
	fz_takes, nitems(fz_takes), fz_start, fz_run, fz_teardown, NULL,
	fz_got, fz_line, fz_fatal
};
