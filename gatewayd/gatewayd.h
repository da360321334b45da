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

#ifndef GATEWAYD_H
#define GATEWAYD_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <event.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "compat.h"
#include "imsg.h"

#ifndef GATEWAYD_CONF
#define GATEWAYD_CONF		"/etc/gatewayd/gatewayd.conf"
#endif
#ifndef GATEWAYD_SECRETS
#define GATEWAYD_SECRETS	"/etc/gatewayd/secrets"
#endif
#ifndef GATEWAYD_CHROOT
#define GATEWAYD_CHROOT		"/var/empty"
#endif
#define GATEWAYD_USER		"_gatewayd"
#define GATEWAYD_PORT		5347

/* Descriptors a child finds at exec time. */
#define PROC_PARENT_FD		3	/* pipe to the parent */
#define PROC_PEER_FD		4	/* engine <-> authd pipe */

#define GW_NAME_MAX		256	/* a domain: 253 octets and a NUL */
#define GW_SECRET_MAX		256
#define GW_USER_MAX		64

/* Defaults of the global limits; gatewayd.conf(5) documents each. */
#define GW_MAX_CONNS		1024
#define GW_MAX_STANZA		(256 * 1024)
#define GW_MIN_STANZA		10000	/* RFC 6120 13.12 */
#define GW_MAX_STANZA_LIMIT	(16 * 1024 * 1024)
#define GW_MAX_UNAUTH		128
#define GW_MAX_UNAUTH_PER_ADDR	16
#define GW_MAX_PREAUTH		4096
#define GW_MAX_DEPTH		32
#define GW_MAX_ATTRS		64
#define GW_AUTH_FAIL_MAX	5
#define GW_AUTH_FAIL_WINDOW	60
#define GW_AUTH_HOLDDOWN	60
#define GW_MAX_QUEUE		(1024 * 1024)
#define GW_QUEUE_TIMEOUT	30
#define GW_FLAP_MAX		5
#define GW_FLAP_WINDOW		60
#define GW_FLAP_HOLDDOWN	60
#define GW_HANDSHAKE_TIMEOUT	10
#define GW_IDLE_TIMEOUT		300
#define GW_TIMEOUT_MAX		86400

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
	IMSG_CTL_VERBOSE,	/* parent -> child: int */
	IMSG_AUTH_STREAM,	/* engine -> authd: struct gw_auth_stream */
	IMSG_AUTH_STREAMID,	/* authd -> engine: struct gw_auth_streamid */
	IMSG_AUTH_HANDSHAKE,	/* engine -> authd: struct gw_auth_handshake */
	IMSG_AUTH_RESULT,	/* authd -> engine: struct gw_auth_result */
	IMSG_AUTH_FORGET	/* engine -> authd: the connection is gone */
};

/*
 * Everything below that ends in _conf travels over imsg as it is: fixed
 * size, no pointers, strings NUL padded and checked by the receiver.
 */
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
	uint32_t		 max_queue;
	uint32_t		 queue_timeout;
	uint32_t		 flap_max;
	uint32_t		 flap_window;
	uint32_t		 flap_holddown;
	int32_t			 verbose;
};

/*
 * The handshake.  authd issues each stream id itself and keeps it with
 * the connection id (the imsg peerid), the domain and the address: it
 * answers only for an id it issued, once.
 */
#define GW_STREAMID_LEN		32	/* 128 bits in hex */
#define GW_DIGEST_LEN		20	/* SHA-1 */

struct gw_auth_stream {
	char			 domain[GW_NAME_MAX];
	struct sockaddr_storage	 peer;
};

struct gw_auth_streamid {
	char			 id[GW_STREAMID_LEN + 1];
};

struct gw_auth_handshake {
	uint8_t			 digest[GW_DIGEST_LEN];
};

enum gw_auth_verdict {
	AUTH_OK,
	AUTH_DENIED
};

struct gw_auth_result {
	int32_t			 verdict;
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

/* The parent's parsed configuration. */
struct gw_listen {
	TAILQ_ENTRY(gw_listen)	 entry;
	struct gw_listen_conf	 conf;
	int			 fd;
};
TAILQ_HEAD(gw_listens, gw_listen);

struct gw_alias {
	TAILQ_ENTRY(gw_alias)	 entry;
	struct gw_alias_conf	 conf;
	int			 lineno;
};
TAILQ_HEAD(gw_aliases, gw_alias);

struct gw_component {
	TAILQ_ENTRY(gw_component) entry;
	struct gw_component_conf conf;
	struct gw_aliases	 aliases;
	int			 nsecrets;
	char			*file;		/* where it was defined */
	int			 lineno;
};
TAILQ_HEAD(gw_components, gw_component);

struct gw_secret {
	TAILQ_ENTRY(gw_secret)	 entry;
	struct gw_secret_conf	 conf;
};
TAILQ_HEAD(gw_secrets, gw_secret);

struct gatewayd_conf {
	struct gw_global	 global;
	struct gw_listens	 listeners;
	struct gw_components	 components;
	struct gw_secrets	 secrets;
	char			 user[GW_USER_MAX];
	char			 chroot[PATH_MAX];
	char			 secrets_path[PATH_MAX];
	char			 conf_path[PATH_MAX];
	int			 name_set;	/* else the host name */
};

/* An imsg channel with its event, as every process uses them. */
struct imsgev {
	struct imsgbuf		 ibuf;
	struct event		 ev;
	void			(*handler)(int, short, void *);
	void			*data;
	short			 events;
	const char		*name;		/* the process at the far end */
};

/* gatewayd.c */
extern const char	*gw_procnames[PROC_MAX];

/* parse.y */
struct gatewayd_conf	*parse_config(const char *, int);
int			 cmdline_symset(char *);

/* config.c */
struct gatewayd_conf	*config_new(void);
void			 config_free(struct gatewayd_conf *);
void			 config_purge_secrets(struct gatewayd_conf *);
void			 config_print(FILE *, const struct gatewayd_conf *);
const char		*sockaddr_print(const struct sockaddr_storage *, char *,
			    size_t);
socklen_t		 sockaddr_len(const struct sockaddr_storage *);
void			 sockaddr_key(const struct sockaddr_storage *,
			    uint8_t [16]);
int			 sockaddr_cmp(const struct sockaddr_storage *,
			    const struct sockaddr_storage *);
int			 domain_normalize(char *);
int			 config_send_engine(struct imsgev *,
			    const struct gatewayd_conf *);
int			 config_send_authd(struct imsgev *,
			    const struct gatewayd_conf *);

/* proc.c */
pid_t			 proc_exec(enum gw_proc, int, int, int, int,
			    const char *, const char *);
void			 proc_child_setup(enum gw_proc, const char *,
			    const char *);
void			 imsgev_init(struct imsgev *, int, const char *,
			    void (*)(int, short, void *), void *);
void			 imsgev_add(struct imsgev *);
void			 imsgev_clear(struct imsgev *);
int			 imsgev_compose(struct imsgev *, uint32_t, uint32_t,
			    int, const void *, size_t);
int			 imsgev_handle_io(struct imsgev *, short);
void			 imsg_get_fixed(struct imsg *, void *, size_t,
			    const char *);
void			 imsg_check_string(const char *, size_t, const char *);

/* engine.c */
__dead void		 engine_main(int, int, const char *, const char *);

/* authd.c */
__dead void		 authd_main(int, int, const char *, const char *);

#endif /* GATEWAYD_H */
