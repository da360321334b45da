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
 * What the processes say to each other: the message types of the pipes
 * and their payloads.  Every payload is fixed in size, has no pointers,
 * and carries its strings NUL padded, checked by the receiver.
 */

#ifndef MSG_H
#define MSG_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

/* Descriptors a child finds at exec time. */
#define PROC_PARENT_FD		3	/* pipe to the parent */
#define PROC_PEER_FD		4	/* engine <-> authd pipe */

#define GW_NAME_MAX		256	/* a domain: 253 octets and a NUL */
#define GW_SECRET_MAX		256

enum gw_proc {
	PROC_PARENT,
	PROC_ENGINE,
	PROC_AUTHD,
	PROC_MAX
};

enum imsg_type {
	IMSG_NONE,
	IMSG_RECONF_START,	/* parent -> child: struct gw_global */
	IMSG_RECONF_LISTENER,	/* parent -> engine: struct gw_listen_conf */
	IMSG_RECONF_COMPONENT,	/* parent -> child: struct gw_component_conf */
	IMSG_RECONF_ALIAS,	/* parent -> engine: struct gw_alias_conf */
	IMSG_RECONF_SECRET,	/* parent -> authd: struct gw_secret_conf */
	IMSG_RECONF_DONE,	/* parent -> child: swap in the staged config */
	IMSG_RECONF_ACK,	/* child -> parent: swapped */
	IMSG_AUTH_STREAM,	/* engine -> authd: struct gw_auth_stream */
	IMSG_AUTH_STREAMID,	/* authd -> engine: struct gw_auth_streamid */
	IMSG_AUTH_HANDSHAKE,	/* engine -> authd: struct gw_auth_handshake */
	IMSG_AUTH_RESULT,	/* authd -> engine: struct gw_auth_result */
	IMSG_AUTH_FORGET,	/* engine -> authd: struct gw_auth_forget */
	IMSG_PING,		/* parent -> child: struct gw_ping */
	IMSG_PONG,		/* child -> parent: struct gw_ping, the same */
	IMSG_LOG,		/* child -> parent: struct gw_log, then a line */
	IMSG_RECONF_CONTROL,	/* parent -> engine: struct gw_control_conf */
	IMSG_CTL_RELOAD,	/* engine -> parent: struct gw_ctl_req */
	IMSG_CTL_VERBOSE,	/* engine -> parent -> authd: gw_ctl_verbose */
	IMSG_CTL_LINE,		/* parent -> engine: struct gw_ctl_line */
	IMSG_CTL_END,		/* parent -> engine: struct gw_ctl_end */
	IMSG_CTL_AUTHD_STATS,	/* engine <-> authd: gw_ctl_req, gw_authd_stats */
	IMSG_RECONF_UPSTREAM,	/* parent -> engine: struct gw_upstream_conf */
	IMSG_RECONF_UPSECRET,	/* parent -> authd: struct gw_secret_conf */
	IMSG_UPLINK_CONNECT,	/* engine -> parent: struct gw_uplink_req */
	IMSG_UPLINK_FD,		/* parent -> engine: gw_uplink_conn, a socket */
	IMSG_UPLINK_FAILED,	/* parent -> engine: struct gw_uplink_conn */
	IMSG_UPLINK_DIGEST,	/* engine -> authd: struct gw_uplink_digest */
	IMSG_UPLINK_ANSWER	/* authd -> engine: struct gw_uplink_answer */
};

#define GW_LINE_MAX		1024	/* a line of a log or a result */

/*
 * The control socket (common/ctl.h) is the engine's; what needs the
 * parent or authd goes to them with the control connection's id, and
 * their answers come back with it.
 */
struct gw_control_conf {
	int32_t			 restricted;	/* with the listening socket */
};

struct gw_ctl_req {
	uint64_t		 ctl_id;
};

struct gw_ctl_verbose {
	int32_t			 verbose;
};

struct gw_ctl_line {
	uint64_t		 ctl_id;
	char			 line[GW_LINE_MAX];
};

struct gw_ctl_end {
	uint64_t		 ctl_id;
	int32_t			 status;
	char			 message[256];
};

struct gw_authd_stats {
	uint64_t		 ctl_id;
	uint32_t		 throttled;	/* sources held down now */
	uint32_t		 sources;	/* with recent failures */
};

/* A line for the parent to log: its priority, then the text with a NUL. */
struct gw_log {
	int32_t			 pri;
};

/* The parent asks its children, now and then, whether they still run. */
struct gw_ping {
	uint32_t		 seq;
};

struct gw_global {
	char			 name[GW_NAME_MAX];	/* ours, in bounces */
	uint32_t		 max_conns;
	uint32_t		 max_unauth;
	uint32_t		 max_unauth_per_addr;
	uint32_t		 max_preauth;
	uint32_t		 max_stanza;
	uint32_t		 max_depth;
	uint32_t		 max_attrs;
	uint32_t		 handshake_timeout;
	uint32_t		 idle_timeout;
	uint32_t		 auth_fail_max;
	uint32_t		 auth_fail_window;
	uint32_t		 auth_holddown;
	uint32_t		 auth_budget;	/* checks a second, held down */
	uint32_t		 max_queue;
	uint32_t		 queue_timeout;
	uint32_t		 flap_max;
	uint32_t		 flap_window;
	uint32_t		 flap_holddown;
	int32_t			 verbose;
};

/*
 * The handshake.  authd issues each stream id itself and keeps it with
 * the connection id, the domain and the address: it answers only for an
 * id it issued, once.  Connection ids are 64 bits and never repeat while
 * the daemon runs, so an answer for a closed connection finds nobody.
 */
#define GW_STREAMID_LEN		32	/* 128 bits in hex */
#define GW_DIGEST_LEN		20	/* SHA-1 */

struct gw_auth_stream {
	uint64_t		 conn_id;
	char			 domain[GW_NAME_MAX];
	struct sockaddr_storage	 peer;
};

struct gw_auth_streamid {
	uint64_t		 conn_id;
	char			 id[GW_STREAMID_LEN + 1];
};

struct gw_auth_handshake {
	uint64_t		 conn_id;
	uint8_t			 digest[GW_DIGEST_LEN];
};

enum gw_auth_verdict {
	AUTH_OK,
	AUTH_DENIED
};

struct gw_auth_result {
	uint64_t		 conn_id;
	int32_t			 verdict;
};

struct gw_auth_forget {
	uint64_t		 conn_id;
};

struct gw_listen_conf {
	struct sockaddr_storage	 ss;
	uint32_t		 id;
};

#define GW_COMP_DEFAULT_ROUTE	0x01

enum gw_conflict {
	CONFLICT_REPLACE,
	CONFLICT_REJECT
};

struct gw_component_conf {
	char			 name[GW_NAME_MAX];
	uint32_t		 id;
	uint32_t		 flags;
	uint32_t		 conflict;
	uint32_t		 max_stanza;	/* 0: the global limit */
	uint32_t		 upstream_id;	/* 0: none */
};

/*
 * An XMPP server gatewayd connects to on behalf of its components (the
 * client side of XEP-0114): one stream for each component that names
 * it.  What the server or the component sends while the other side is
 * away is held for grace seconds, at most grace_size bytes each way.
 */
#define GW_UPSTREAM_NAME_MAX	64
#define GW_UPSTREAM_GRACE	10
#define GW_UPSTREAM_GRACE_SIZE	(1024 * 1024)

struct gw_upstream_conf {
	char			 name[GW_UPSTREAM_NAME_MAX];
	uint32_t		 id;		/* 1 and up */
	uint32_t		 grace;		/* seconds, 0: none */
	uint32_t		 grace_size;	/* bytes */
	uint64_t		 addr_hash;	/* changed: connect anew */
};

/*
 * The uplink of a component: the engine asks the parent for a connection
 * to its server (the engine may not make sockets); the parent tries each
 * address of the upstream in order and passes the socket, or says why
 * none would do.  seq is the engine's, to match an answer to its request.
 */
struct gw_uplink_req {
	char			 domain[GW_NAME_MAX];
	uint32_t		 upstream_id;
	uint32_t		 seq;
};

struct gw_uplink_conn {
	char			 domain[GW_NAME_MAX];
	uint32_t		 seq;
	struct sockaddr_storage	 peer;		/* connected to, or last tried */
	char			 error[128];	/* IMSG_UPLINK_FAILED */
};

/*
 * The server's stream id, as the engine parsed it, for authd to answer
 * with the handshake: hex SHA-1 of id and the upstream secret of domain,
 * or an empty digest when it has none (or will not, for now).
 */
#define GW_SERVER_ID_MAX	256

struct gw_uplink_digest {
	uint64_t		 conn_id;
	char			 domain[GW_NAME_MAX];
	char			 stream_id[GW_SERVER_ID_MAX];
};

struct gw_uplink_answer {
	uint64_t		 conn_id;
	char			 hex[2 * GW_DIGEST_LEN + 1];
};

struct gw_alias_conf {
	char			 name[GW_NAME_MAX];
	uint32_t		 component_id;
};

struct gw_secret_conf {
	char			 domain[GW_NAME_MAX];
	char			 secret[GW_SECRET_MAX];
	uint32_t		 len;
};

#endif /* MSG_H */
