# libFuzzer targets: a GNU make fragment for the top Makefile, which
# includes it after it has set OBJ, CPPFLAGS, WARNINGS, LDLIBS and YACC.
# They need clang with the fuzzer runtime (Debian: clang and
# libclang-rt-dev); regress/fuzz/run.sh runs them.
#
#   $(OBJ)/fuzz/stream_fuzz   the stream layer alone
#   $(OBJ)/fuzz/router_fuzz   the router and bounces, a fake connection layer
#   $(OBJ)/fuzz/config_fuzz   parse.y and config.c

FUZZ_CC =	clang
FUZZ_SAN =	-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
		-fsanitize=fuzzer,address,undefined
FUZZ_SAN_OBJ =	-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
		-fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ =	$(OBJ)/fuzz
FUZZ_PROGS =	$(FUZZ_OBJ)/stream_fuzz $(FUZZ_OBJ)/router_fuzz \
		$(FUZZ_OBJ)/config_fuzz
FUZZ_HEADERS =	$(wildcard gatewayd/*.h common/*.h common/compat/*.h)
FUZZ_BUILD =	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_SAN) $(WARNINGS)

FUZZ_STREAM_SRCS = regress/fuzz/stream_fuzz.c gatewayd/stream.c \
		gatewayd/stream_text.c gatewayd/splice.c common/log.c \
		common/util.c common/addr.c
# The clock is the target's own: no common/util.c.  common/proc.c, for
# config.c, needs the imsg port and the sandbox (SYS_SRCS).
FUZZ_ROUTER_SRCS = regress/fuzz/router_fuzz.c gatewayd/router.c \
		gatewayd/bounce.c common/log.c common/addr.c
FUZZ_CONFIG_SRCS = regress/fuzz/config_fuzz.c gatewayd/config.c \
		common/log.c common/addr.c common/util.c common/proc.c \
		$(SYS_SRCS)

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
