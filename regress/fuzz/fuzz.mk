# libFuzzer targets: a GNU make fragment for the top Makefile, which
# includes it after it has set OBJ, CPPFLAGS, WARNINGS, LDLIBS and YACC
# (and the source lists STREAM_LAYER, UNIT_COMMON, COMMON_SRCS, which it
# follows when they are set).
# They need clang with the fuzzer runtime (Debian: clang and
# libclang-rt-dev); regress/fuzz/run.sh runs them.
#
#   $(OBJ)/fuzz/stream_fuzz   the stream layer alone
#   $(OBJ)/fuzz/router_fuzz   the router and bounces, a fake connection layer
#   $(OBJ)/fuzz/config_fuzz   parse.y and config.c
#   $(OBJ)/fuzz/imsg_engine_fuzz  the engine's imsg receivers, and the
#                             engine behind them, over real pipes and sockets
#   $(OBJ)/fuzz/imsg_authd_fuzz   authd's imsg receivers, its own loop
#                             (both on regress/fuzz/imsg_fuzz.c: the
#                             entry points, the pipes, log.c and proc.c)

FUZZ_CC =	clang
FUZZ_SAN =	-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
		-fsanitize=fuzzer,address,undefined
FUZZ_SAN_OBJ =	-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
		-fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ =	$(OBJ)/fuzz
FUZZ_PROGS =	$(FUZZ_OBJ)/stream_fuzz $(FUZZ_OBJ)/router_fuzz \
		$(FUZZ_OBJ)/config_fuzz $(FUZZ_OBJ)/imsg_engine_fuzz \
		$(FUZZ_OBJ)/imsg_authd_fuzz
FUZZ_HEADERS =	$(wildcard gatewayd/*.h common/*.h common/compat/*.h)
FUZZ_BUILD =	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_SAN) $(WARNINGS)

# What the unit tests of the same layers link, and the daemon's own.
FUZZ_COMMON =	$(or $(UNIT_COMMON),common/log.c common/util.c common/addr.c)
FUZZ_DAEMON =	$(or $(COMMON_SRCS),common/log.c common/proc.c \
		common/addr.c common/util.c $(SYS_SRCS))
FUZZ_STREAM =	$(or $(STREAM_LAYER),gatewayd/stream.c \
		gatewayd/stream_text.c gatewayd/splice.c gatewayd/xmlmem.c)

FUZZ_STREAM_SRCS = regress/fuzz/stream_fuzz.c $(FUZZ_STREAM) $(FUZZ_COMMON)
# The router's clock (monotime) is the target's own.
FUZZ_ROUTER_SRCS = regress/fuzz/router_fuzz.c gatewayd/router.c \
		gatewayd/router_grace.c gatewayd/bounce.c gatewayd/hold.c \
		gatewayd/outq.c \
		$(filter-out common/util.c,$(FUZZ_COMMON))
# config.c sends through common/proc.c: the imsg port and the sandbox.
FUZZ_CONFIG_SRCS = regress/fuzz/config_fuzz.c gatewayd/config.c \
		$(FUZZ_DAEMON)
# The imsg targets include these files for their statics: each the
# receiver's, and imsg_fuzz.o, which both link, proc.c's dispatch and
# log.c with exit renamed so that a fatal returns.  They link the others
# as built.
FUZZ_IMSG_IN =	common/log.c common/proc.c common/logsum.c \
		gatewayd/engine.c gatewayd/engine_auth.c \
		gatewayd/engine_uplink.c gatewayd/uplink.c gatewayd/control.c
FUZZ_IMSG_SHARED = $(FUZZ_OBJ)/imsg_fuzz.o
FUZZ_ENGINE_LAYERS = $(filter-out $(FUZZ_IMSG_IN),$(or $(ENGINE_SRCS), \
		gatewayd/outq.c gatewayd/inbuf.c gatewayd/conn.c \
		gatewayd/listener.c gatewayd/splice.c gatewayd/stream_text.c \
		gatewayd/xmlmem.c gatewayd/stream.c gatewayd/stream_xml.c \
		gatewayd/bounce.c gatewayd/router.c gatewayd/router_grace.c))
FUZZ_IMSG_COMMON = $(filter-out $(FUZZ_IMSG_IN),$(FUZZ_DAEMON))
FUZZ_IMSG_ENGINE_SRCS = regress/fuzz/imsg_engine_fuzz.c \
		$(FUZZ_ENGINE_LAYERS) $(FUZZ_IMSG_COMMON)
FUZZ_IMSG_AUTHD_SRCS = regress/fuzz/imsg_authd_fuzz.c authd/digest.c \
		$(FUZZ_IMSG_COMMON)

.PHONY: fuzz-progs

fuzz-progs: $(FUZZ_PROGS)

$(FUZZ_OBJ)/stream_fuzz: $(FUZZ_STREAM_SRCS) $(FUZZ_HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_BUILD) -o $@ $(FUZZ_STREAM_SRCS) $(LDLIBS)

$(FUZZ_OBJ)/router_fuzz: $(FUZZ_ROUTER_SRCS) $(FUZZ_HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_BUILD) -o $@ $(FUZZ_ROUTER_SRCS) $(LDLIBS)

# The grammar of its own, its files and names through config_fuzz.c.
$(FUZZ_OBJ)/parse.c: gatewayd/parse.y
	@mkdir -p $(@D)
	$(YACC) -o $@ gatewayd/parse.y

$(FUZZ_OBJ)/parse.o: $(FUZZ_OBJ)/parse.c $(FUZZ_HEADERS)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_SAN_OBJ) $(WARNINGS) \
	    -Wno-unused-but-set-variable -Wno-unused-parameter \
	    -Dfopen=fuzz_fopen -Dopen=fuzz_open \
	    -Dgetaddrinfo=fuzz_getaddrinfo -c -o $@ $(FUZZ_OBJ)/parse.c

$(FUZZ_OBJ)/config_fuzz: $(FUZZ_CONFIG_SRCS) $(FUZZ_OBJ)/parse.o \
    $(FUZZ_HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_BUILD) -o $@ $(FUZZ_CONFIG_SRCS) $(FUZZ_OBJ)/parse.o $(LDLIBS)

$(FUZZ_IMSG_SHARED): regress/fuzz/imsg_fuzz.c regress/fuzz/imsg_fuzz.h \
    common/log.c common/proc.c $(FUZZ_HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_SAN_OBJ) $(WARNINGS) -c -o $@ \
	    regress/fuzz/imsg_fuzz.c

$(FUZZ_OBJ)/imsg_engine_fuzz: $(FUZZ_IMSG_ENGINE_SRCS) $(FUZZ_IMSG_SHARED) \
    $(FUZZ_IMSG_IN) $(FUZZ_HEADERS) regress/fuzz/imsg_fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_BUILD) -o $@ $(FUZZ_IMSG_ENGINE_SRCS) $(FUZZ_IMSG_SHARED) \
	    $(LDLIBS)

$(FUZZ_OBJ)/imsg_authd_fuzz: $(FUZZ_IMSG_AUTHD_SRCS) $(FUZZ_IMSG_SHARED) \
    authd/authd.c $(FUZZ_IMSG_IN) $(FUZZ_HEADERS) $(wildcard authd/*.h) \
    regress/fuzz/imsg_fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_BUILD) -o $@ $(FUZZ_IMSG_AUTHD_SRCS) $(FUZZ_IMSG_SHARED) \
	    $(LDLIBS)
