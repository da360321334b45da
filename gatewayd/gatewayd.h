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

#include "addr.h"
#include "compat.h"
#include "msg.h"
#include "proc.h"

#ifndef GATEWAYD_CONF
#define GATEWAYD_CONF		"/etc/gatewayd/gatewayd.conf"
#endif
#ifndef GATEWAYD_SECRETS
#define GATEWAYD_SECRETS	"/etc/gatewayd/secrets"
#endif
#ifndef GATEWAYD_CHROOT
#define GATEWAYD_CHROOT		"/var/empty"
#endif
#ifndef GATEWAYD_SOCKET
#define GATEWAYD_SOCKET		"/var/run/gatewayd.sock"
#endif
#define GATEWAYD_USER		"_gatewayd"
#define GATEWAYD_PORT		5347

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
#define GW_AUTH_BUDGET		20
#define GW_MAX_QUEUE		(1024 * 1024)
#define GW_QUEUE_TIMEOUT	30
#define GW_FLAP_MAX		5
#define GW_FLAP_WINDOW		60
#define GW_FLAP_HOLDDOWN	60
#define GW_HANDSHAKE_TIMEOUT	10
#define GW_IDLE_TIMEOUT		300
#define GW_TIMEOUT_MAX		86400

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

/*
 * An upstream: the XMPP server's addresses, one "connect to" line each,
 * resolved when the configuration is read (tried in that order, each
 * line's addresses in the order the resolver gave), and where its
 * secrets are.  Its secrets (one a component) land in upsecrets.
 */
#define GW_CONNECT_MAX		8	/* connect to lines */
#define GW_CONNECT_ADDRS_MAX	16	/* addresses of one line */

struct gw_connect_to {
	char			 host[GW_NAME_MAX];	/* as written */
	uint16_t		 port;
	struct sockaddr_storage	 addrs[GW_CONNECT_ADDRS_MAX];
	size_t			 naddrs;
};

struct gw_upstream {
	TAILQ_ENTRY(gw_upstream) entry;
	struct gw_upstream_conf	 conf;
	struct gw_connect_to	 connect[GW_CONNECT_MAX];
	size_t			 nconnect;
	char			 secrets_path[PATH_MAX];
	char			*file;		/* where it was defined */
	int			 lineno;
};
TAILQ_HEAD(gw_upstreams, gw_upstream);

/* A control socket: the parent makes it, the engine answers on it. */
#define GW_CTLSOCK_MAX		4
#define GW_CTLSOCK_PATH_MAX	104	/* sun_path, everywhere */

struct gw_ctlsock {
	TAILQ_ENTRY(gw_ctlsock)	 entry;
	char			 path[GW_CTLSOCK_PATH_MAX];
	int			 restricted;	/* show commands only */
	int			 fd;
};
TAILQ_HEAD(gw_ctlsocks, gw_ctlsock);

struct gatewayd_conf {
	struct gw_global	 global;
	struct gw_listens	 listeners;
	struct gw_ctlsocks	 ctlsocks;
	struct gw_components	 components;
	struct gw_secrets	 secrets;
	struct gw_upstreams	 upstreams;
	struct gw_secrets	 upsecrets;	/* domain: its server's */
	char			 user[GW_USER_MAX];
	char			 chroot[PATH_MAX];
	char			 secrets_path[PATH_MAX];
	char			 conf_path[PATH_MAX];
	int			 name_set;	/* else the host name */
};

/* parse.y */
struct gatewayd_conf	*parse_config(const char *, int);
int			 cmdline_symset(char *);

/* config.c */
struct gatewayd_conf	*config_new(void);
void			 config_free(struct gatewayd_conf *);
void			 config_purge_secrets(struct gatewayd_conf *);
void			 config_print(FILE *, const struct gatewayd_conf *);
int			 config_send_engine(struct imsgev *,
			    const struct gatewayd_conf *);
int			 config_send_authd(struct imsgev *,
			    const struct gatewayd_conf *);

/* gatewayd.c */
void			 socket_liveness(int, const struct gw_global *);

/* connector.c: the parent's connections to the upstream servers */
void			 connector_request(struct imsgev *,
			    const struct gw_uplink_req *,
			    const struct gatewayd_conf *);
void			 connector_cancel_all(void);

/* engine.c */
__dead void		 engine_main(int, int, const char *, const char *);

#endif /* GATEWAYD_H */
