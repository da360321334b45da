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
COMPAT_SRCS =	common/sandbox_openbsd.c
SYS_SRCS =	$(COMPAT_SRCS)
else
CHROOTDIR ?=	/var/lib/gatewayd
CTLSOCKET ?=	/run/gatewayd.sock
PKGS =		libbsd-overlay libevent expat libcrypto
CPPFLAGS +=	-D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS +=	$(shell pkg-config --libs $(PKGS) 2>/dev/null)
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
		python3-twisted procps psmisc valgrind

OBJ =		obj
COMMON_SRCS =	common/log.c common/logsum.c common/proc.c common/addr.c \
		common/util.c \
		$(SYS_SRCS)
# The engine's layers, bottom up; regress/build/layers.sh checks them.
ENGINE_SRCS =	gatewayd/outq.c gatewayd/inbuf.c gatewayd/conn.c gatewayd/listener.c \
		gatewayd/splice.c \
		gatewayd/stream_text.c gatewayd/stream.c gatewayd/stream_xml.c \
		gatewayd/bounce.c \
		gatewayd/router.c gatewayd/control.c gatewayd/engine.c
SRCS =		gatewayd/gatewayd.c gatewayd/config.c $(ENGINE_SRCS) \
		authd/authd.c authd/digest.c $(COMMON_SRCS)
OBJS =		$(SRCS:%.c=$(OBJ)/%.o) $(OBJ)/parse.o

REGRESS_PROGS =	$(OBJ)/regress/imsg_test $(OBJ)/regress/sandbox_test \
		$(OBJ)/regress/digest_test $(OBJ)/regress/authd_test \
		$(OBJ)/regress/stream_unit $(OBJ)/regress/router_unit \
		$(OBJ)/regress/conn_unit $(OBJ)/regress/loadgen

PROG =		$(OBJ)/bin/gatewayd

.PHONY: all install clean run check bench fuzz deps deps-test regress \
	regress-progs sanitize

# The tests run twice: with the normal build and with this one.
SANITIZE =	-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all

all: $(PROG)

$(PROG): $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

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
		gatewayd/splice.c

$(OBJ)/regress/stream_unit: regress/stream/stream_unit.c $(STREAM_LAYER) \
    $(UNIT_COMMON) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/stream/stream_unit.c $(STREAM_LAYER) $(UNIT_COMMON) \
	    $(LDLIBS)

$(OBJ)/regress/router_unit: regress/router/router_unit.c gatewayd/router.c \
    gatewayd/bounce.c $(UNIT_COMMON) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/router/router_unit.c gatewayd/router.c gatewayd/bounce.c \
	    $(UNIT_COMMON) $(LDLIBS)

$(OBJ)/regress/conn_unit: regress/conn/conn_unit.c gatewayd/conn.c \
    gatewayd/outq.c gatewayd/inbuf.c $(COMPAT_SRCS) $(UNIT_COMMON) \
    $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/conn/conn_unit.c gatewayd/conn.c gatewayd/outq.c \
	    gatewayd/inbuf.c $(COMPAT_SRCS) $(UNIT_COMMON) $(LDLIBS)

$(OBJ)/regress/loadgen: regress/bench/loadgen.c authd/digest.c \
    common/util.c common/log.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ \
	    regress/bench/loadgen.c authd/digest.c common/util.c \
	    common/log.c $(LDLIBS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(EXAMPLEDIR)
	install -m 0555 $(PROG) $(DESTDIR)$(SBINDIR)/gatewayd
	install -m 0444 gatewayd.8 $(DESTDIR)$(MANDIR)/man8/gatewayd.8
	install -m 0444 gatewayd.conf.5 $(DESTDIR)$(MANDIR)/man5/gatewayd.conf.5
	install -m 0444 etc/gatewayd.conf $(DESTDIR)$(EXAMPLEDIR)/gatewayd.conf
	install -d -m 0755 $(DESTDIR)$(CHROOTDIR)

clean:
	rm -rf $(OBJ)

# Installs the Debian packages that are missing when run as root on
# Debian; elsewhere says what to install.
deps:
	@sh regress/deps.sh $(BUILD_DEBS)

deps-test:
	@sh regress/deps.sh $(BUILD_DEBS) $(TEST_DEBS)

run: deps
	@$(MAKE) --no-print-directory all
	@sh regress/demo.sh

check: deps-test
	@$(MAKE) --no-print-directory regress-progs
	@$(MAKE) --no-print-directory sanitize
	@$(MAKE) --no-print-directory fuzz-progs
	@sh regress/run.sh $(OBJ) $(OBJ)/asan

regress-progs: $(PROG) $(REGRESS_PROGS)

sanitize:
	@$(MAKE) --no-print-directory OBJ=$(OBJ)/asan CFLAGS="$(SANITIZE)" \
	    LDFLAGS="$(SANITIZE)" regress-progs

regress: regress-progs
	@sh regress/run.sh $(OBJ)

bench: deps
	@$(MAKE) --no-print-directory regress-progs
	@OBJ=$(OBJ) sh regress/bench/bench

# Each fuzz target for FUZZ_TIME seconds; make check runs a short version.
FUZZ_TIME ?=	60

fuzz: deps-test
	@$(MAKE) --no-print-directory fuzz-progs
	@sh regress/fuzz/run.sh $(OBJ) $(FUZZ_TIME) time

include regress/fuzz/fuzz.mk
