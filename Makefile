# gatewayd: GNU make on Linux (Debian 12) and OpenBSD (gmake).
#
#   make run     install what is missing, build, start a demo in the foreground
#   make check   install what is missing, build, run every test

PREFIX ?=	/usr/local
DESTDIR ?=
SBINDIR ?=	$(PREFIX)/sbin
MANDIR ?=	$(PREFIX)/share/man
EXAMPLEDIR ?=	$(PREFIX)/share/examples/gatewayd
SYSCONFDIR ?=	/etc/gatewayd
# On Linux, where systemd finds the unit, sysusers.d and tmpfiles.d files;
# on OpenBSD, where rc.d(8) scripts live.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?=	$(PREFIX)/lib/sysusers.d
TMPFILESDIR ?=	$(PREFIX)/lib/tmpfiles.d
RCDIR ?=	/etc/rc.d

OS :=		$(shell uname -s)
YACC =		byacc
CFLAGS ?=	-O2 -g
WARNINGS =	-Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
		-Wmissing-declarations -Wshadow -Wpointer-arith -Wcast-qual \
		-Wsign-compare -Wformat=2 -Wformat-security
CPPFLAGS +=	-Icommon -Igatewayd -Iauthd \
		-DGATEWAYD_CONF=\"$(SYSCONFDIR)/gatewayd.conf\" \
		-DGATEWAYD_SECRETS=\"$(SYSCONFDIR)/secrets\" \
		-DGATEWAYD_CHROOT=\"$(CHROOTDIR)\" \
		-DGATEWAYD_SOCKET=\"$(CTLSOCKET)\" \
		-DGATEWAYD_PATH=\"$(SBINDIR)/gatewayd\"

ifeq ($(OS),OpenBSD)
CHROOTDIR ?=	/var/empty
CTLSOCKET ?=	/var/run/gatewayd.sock
LDLIBS +=	-lutil -levent -lexpat -lcrypto
CTL_LDLIBS =	-lutil
COMPAT_SRCS =	common/sandbox_openbsd.c
SYS_SRCS =	$(COMPAT_SRCS)
else
CHROOTDIR ?=	/var/lib/gatewayd
CTLSOCKET ?=	/run/gatewayd/gatewayd.sock
PKGS =		libbsd-overlay libevent expat libcrypto
CPPFLAGS +=	-D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS +=	$(shell pkg-config --libs $(PKGS) 2>/dev/null)
CTL_LDLIBS =	$(shell pkg-config --libs libbsd-overlay 2>/dev/null)
# The system's <imsg.h> on OpenBSD; our port of it on Linux.
CPPFLAGS +=	-Icommon/compat
IMSG_SRCS =	common/compat/imsg.c common/compat/imsg-buffer.c
COMPAT_SRCS =	common/sandbox_linux.c
SYS_SRCS =	$(COMPAT_SRCS) $(IMSG_SRCS)
endif

# Debian packages: to build, and what the tests use as real peers.
BUILD_DEBS =	gcc make pkg-config byacc libbsd-dev libevent-dev \
		libexpat1-dev libssl-dev
TEST_DEBS =	clang libclang-rt-dev python3 python3-slixmpp \
		python3-twisted procps psmisc valgrind mandoc prometheus prosody
# What make deb needs besides the build's own.
DEB_DEBS =	debhelper dpkg-dev lintian

OBJ =		obj
COMMON_SRCS =	common/log.c common/logsum.c common/proc.c common/addr.c \
		common/util.c \
		$(SYS_SRCS)
# The engine's layers, bottom up; regress/build/layers.sh checks them.
ENGINE_SRCS =	gatewayd/outq.c gatewayd/inbuf.c gatewayd/conn.c \
		gatewayd/conn_admit.c gatewayd/listener.c gatewayd/splice.c \
		gatewayd/stream_text.c gatewayd/xmlmem.c gatewayd/stream.c \
		gatewayd/stream_xml.c gatewayd/bounce.c gatewayd/hold.c \
		gatewayd/router.c gatewayd/router_grace.c gatewayd/control.c \
		gatewayd/uplink.c \
		gatewayd/engine.c gatewayd/engine_auth.c gatewayd/engine_uplink.c
SRCS =		gatewayd/gatewayd.c gatewayd/config.c gatewayd/connector.c \
		$(ENGINE_SRCS) \
		authd/authd.c authd/digest.c $(COMMON_SRCS)
OBJS =		$(SRCS:%.c=$(OBJ)/%.o) $(OBJ)/parse.o

REGRESS_PROGS =	$(OBJ)/regress/imsg_test $(OBJ)/regress/sandbox_test \
		$(OBJ)/regress/digest_test $(OBJ)/regress/authd_test \
		$(OBJ)/regress/stream_unit $(OBJ)/regress/router_unit \
		$(OBJ)/regress/xmlmem_unit $(OBJ)/regress/conn_unit $(OBJ)/regress/loadgen \
		$(OBJ)/regress/ctl_unit

PROG =		$(OBJ)/bin/gatewayd

# The client of the control socket: imsg, and nothing of the daemon's.
CTLPROG =	$(OBJ)/bin/gatewayctl
CTL_SRCS =	gatewayctl/gatewayctl.c gatewayctl/parser.c gatewayctl/output.c \
		gatewayctl/metrics.c
CTL_OBJS =	$(CTL_SRCS:%.c=$(OBJ)/%.o) $(IMSG_SRCS:%.c=$(OBJ)/%.o)
CTL_HEADERS =	$(wildcard gatewayctl/*.h)

.PHONY: all install clean run check bench bench-compare fuzz stress deps \
	deps-test regress regress-progs sanitize

# The tests run twice: with the normal build and with this one.
SANITIZE =	-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all

all: $(PROG) $(CTLPROG)

$(PROG): $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(CTLPROG): $(CTL_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(CTL_OBJS) $(CTL_LDLIBS)

$(CTL_SRCS:%.c=$(OBJ)/%.o): $(CTL_HEADERS)

$(OBJ)/parse.c: gatewayd/parse.y
	@mkdir -p $(@D)
	$(YACC) -o $@ gatewayd/parse.y

$(OBJ)/parse.o: $(OBJ)/parse.c gatewayd/gatewayd.h common/log.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -Wno-unused-but-set-variable \
	    -Wno-unused-parameter -c -o $@ $(OBJ)/parse.c

HEADERS =	$(wildcard gatewayd/*.h authd/*.h common/*.h common/compat/*.h)

$(OBJ)/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -c -o $@ $<

$(OBJ)/regress/imsg_test: regress/imsg/imsg_test.c $(IMSG_SRCS) \
    common/compat/imsg.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/imsg/imsg_test.c $(IMSG_SRCS) $(LDLIBS)

$(OBJ)/regress/sandbox_test: regress/sandbox/sandbox_test.c \
    common/sandbox_linux.c common/log.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/sandbox/sandbox_test.c common/sandbox_linux.c \
	    common/log.c $(LDLIBS)

$(OBJ)/regress/digest_test: regress/auth/digest_test.c authd/digest.c \
    common/util.c common/log.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/auth/digest_test.c authd/digest.c common/util.c \
	    common/log.c $(LDLIBS)

$(OBJ)/regress/authd_test: regress/auth/authd_test.c authd/digest.c \
    common/util.c common/log.c $(IMSG_SRCS) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/auth/authd_test.c authd/digest.c common/util.c \
	    common/log.c $(IMSG_SRCS) $(LDLIBS)

# Each layer of the engine alone: the stream layer with expat and no
# event loop, the router against a fake connection layer, the connection
# layer over socketpairs.
UNIT_COMMON =	common/log.c common/logsum.c common/util.c common/addr.c

STREAM_LAYER =	gatewayd/stream.c gatewayd/stream_xml.c gatewayd/stream_text.c \
		gatewayd/xmlmem.c \
		gatewayd/splice.c

$(OBJ)/regress/stream_unit: regress/stream/stream_unit.c $(STREAM_LAYER) \
    $(UNIT_COMMON) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/stream/stream_unit.c $(STREAM_LAYER) $(UNIT_COMMON) \
	    $(LDLIBS)

$(OBJ)/regress/xmlmem_unit: regress/stream/xmlmem_unit.c gatewayd/xmlmem.c \
    $(UNIT_COMMON) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/stream/xmlmem_unit.c gatewayd/xmlmem.c $(UNIT_COMMON) \
	    $(LDLIBS)

ROUTER_LAYER =	gatewayd/router.c gatewayd/router_grace.c gatewayd/bounce.c \
		gatewayd/hold.c gatewayd/outq.c
$(OBJ)/regress/router_unit: regress/router/router_unit.c $(ROUTER_LAYER) \
    $(UNIT_COMMON) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/router/router_unit.c $(ROUTER_LAYER) $(UNIT_COMMON) \
	    $(LDLIBS)

$(OBJ)/regress/conn_unit: regress/conn/conn_unit.c gatewayd/conn.c \
    gatewayd/conn_admit.c gatewayd/outq.c gatewayd/inbuf.c $(COMPAT_SRCS) \
    $(UNIT_COMMON) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/conn/conn_unit.c gatewayd/conn.c gatewayd/conn_admit.c \
	    gatewayd/outq.c gatewayd/inbuf.c $(COMPAT_SRCS) $(UNIT_COMMON) \
	    $(LDLIBS)

$(OBJ)/regress/loadgen: regress/bench/loadgen.c authd/digest.c \
    common/util.c common/log.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/bench/loadgen.c authd/digest.c common/util.c \
	    common/log.c $(LDLIBS)

# gatewayctl's output forms and its command table without a daemon, and
# a fake engine (imsg) to check its answers against.
$(OBJ)/regress/ctl_unit: regress/ctl/ctl_unit.c gatewayctl/output.c \
    gatewayctl/metrics.c gatewayctl/parser.c $(IMSG_SRCS) $(CTL_HEADERS) \
    $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Igatewayctl $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/ctl/ctl_unit.c gatewayctl/output.c gatewayctl/metrics.c \
	    gatewayctl/parser.c $(IMSG_SRCS) $(CTL_LDLIBS)

# gatewayctl's page when the tree has it.
MAN8 =		gatewayd.8 $(wildcard gatewayctl/gatewayctl.8)
EXAMPLES =	etc/gatewayd.conf etc/secrets.example

# The programs, their pages and the examples; the service files, which
# name the daemon where it is installed.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(EXAMPLEDIR)
	install -m 0555 $(PROG) $(DESTDIR)$(SBINDIR)/gatewayd
	install -m 0555 $(CTLPROG) $(DESTDIR)$(SBINDIR)/gatewayctl
	install -m 0444 $(MAN8) $(DESTDIR)$(MANDIR)/man8
	install -m 0444 gatewayd.conf.5 $(DESTDIR)$(MANDIR)/man5/gatewayd.conf.5
	install -m 0444 $(EXAMPLES) $(DESTDIR)$(EXAMPLEDIR)
	install -d -m 0755 $(DESTDIR)$(CHROOTDIR)
ifeq ($(OS),OpenBSD)
	sed 's|^daemon=.*|daemon="$(SBINDIR)/gatewayd"|' etc/rc.d/gatewayd \
	    > $(OBJ)/gatewayd.rc
	install -d $(DESTDIR)$(RCDIR)
	install -m 0555 $(OBJ)/gatewayd.rc $(DESTDIR)$(RCDIR)/gatewayd
else
	sed 's|/usr/sbin/gatewayd|$(SBINDIR)/gatewayd|g' etc/gatewayd.service \
	    > $(OBJ)/gatewayd.service
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR)
	install -m 0444 $(OBJ)/gatewayd.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/gatewayd.service
	install -m 0444 etc/gatewayd.sysusers $(DESTDIR)$(SYSUSERSDIR)/gatewayd.conf
	install -m 0444 etc/gatewayd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/gatewayd.conf
endif

# What install put there, and the directories that are gatewayd's own (the
# chroot only on Linux: on OpenBSD it is the system's /var/empty).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gatewayd $(DESTDIR)$(SBINDIR)/gatewayctl \
	    $(DESTDIR)$(MANDIR)/man8/gatewayd.8 \
	    $(DESTDIR)$(MANDIR)/man8/gatewayctl.8 \
	    $(DESTDIR)$(MANDIR)/man5/gatewayd.conf.5 \
	    $(DESTDIR)$(EXAMPLEDIR)/gatewayd.conf \
	    $(DESTDIR)$(EXAMPLEDIR)/secrets.example
	-rmdir $(DESTDIR)$(EXAMPLEDIR)
ifeq ($(OS),OpenBSD)
	rm -f $(DESTDIR)$(RCDIR)/gatewayd
else
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/gatewayd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/gatewayd.conf \
	    $(DESTDIR)$(TMPFILESDIR)/gatewayd.conf
	-rmdir $(DESTDIR)$(CHROOTDIR)
endif

# The Debian package (debian/), built in the tree into $(DEBDIR), then
# checked by lintian (an error or a warning fails); dpkg-buildpackage
# cleans up after itself.
DEBDIR =	$(OBJ)/deb

deb:
	@sh regress/deps.sh $(BUILD_DEBS) $(DEB_DEBS)
	rm -rf $(DEBDIR)
	mkdir -p $(DEBDIR)
	out=$(CURDIR)/$(DEBDIR); \
	    GATEWAYD_DEBDIR=$$out dpkg-buildpackage -us -uc -b -j2 \
	    --post-clean --buildinfo-option=-u$$out \
	    --buildinfo-file=$$out/gatewayd.buildinfo \
	    --changes-option=-u$$out --changes-file=$$out/gatewayd.changes
	lintian --fail-on error,warning $(DEBDIR)/gatewayd.changes

.PHONY: uninstall deb

clean:
	rm -rf $(OBJ)

# Installs the Debian packages that are missing when run as root on
# Debian; elsewhere says what to install.
deps:
	@sh regress/deps.sh $(BUILD_DEBS)

deps-test:
	@sh regress/deps.sh $(BUILD_DEBS) $(TEST_DEBS)

# The demo's components are slixmpp's.
run:
	@sh regress/deps.sh $(BUILD_DEBS) python3-slixmpp
	@$(MAKE) --no-print-directory all
	@sh regress/demo.sh

check: deps-test
	@$(MAKE) --no-print-directory regress-progs
	@$(MAKE) --no-print-directory sanitize
	@$(MAKE) --no-print-directory fuzz-progs
	@sh regress/run.sh $(OBJ) $(OBJ)/asan

regress-progs: $(PROG) $(CTLPROG) $(REGRESS_PROGS)

sanitize:
	@$(MAKE) --no-print-directory OBJ=$(OBJ)/asan CFLAGS="$(SANITIZE)" \
	    LDFLAGS="$(SANITIZE)" regress-progs

regress: regress-progs
	@sh regress/run.sh $(OBJ)

# gatewayd beside Debian's Prosody and Twisted Words' router (TEST_DEBS
# packages), started by regress/bench/bench.py in a scratch directory,
# the servers in turns for each measurement, then 10,000 idle
# components on each: one table, also in $(OBJ)/bench/table.txt, in
# about 7 minutes (one of them Prosody starting with 10,000 components).
# BENCH_ROUNDS (5), BENCH_SECS (2), BENCH_LAT_SECS (3), BENCH_IDLE
# (10000), BENCH_IDLE_WAIT (10), BENCH_TWISTED=0 (without Twisted).
bench: deps-test
	@$(MAKE) --no-print-directory regress-progs
	@OBJ=$(OBJ) /usr/bin/python3 regress/bench/bench.py

# The same load through this tree's gatewayd and BASE's, in turns.
bench-compare: deps
	@$(MAKE) --no-print-directory regress-progs
	@OBJ=$(OBJ) BASE=$(BASE) sh regress/bench/compare

# The stress scenarios of regress/stress at full size (under 15 minutes);
# make check runs a short version.  Besides the tests' packages, make
# stress's own: ejabberd (with Erlang, about 100 MB) for the uplink
# against ejabberd (regress/uplink/uplink_ejabberd_test.py), which says
# skip if it could not be installed: a failure here does not stop make.
STRESS_DEBS =	ejabberd

deps-stress: deps-test
	-@sh regress/deps.sh $(STRESS_DEBS)

.PHONY: deps-stress

stress: deps-test deps-stress
	@$(MAKE) --no-print-directory regress-progs
	@OBJ=$(OBJ) sh regress/stress/stress.sh full

# Each fuzz target for FUZZ_TIME seconds; make check runs a short version.
FUZZ_TIME ?=	60

fuzz: deps-test
	@$(MAKE) --no-print-directory fuzz-progs
	@sh regress/fuzz/run.sh $(OBJ) $(FUZZ_TIME) time

include regress/fuzz/fuzz.mk
