#!/bin/sh
# The whole tree, tests included, builds without a warning with gcc and
# clang (-Werror on top of the project's warning set).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

for cc in gcc clang; do
	if ! command -v $cc >/dev/null 2>&1; then
		skip "$cc build without warnings: $cc not installed"
		continue
	fi
	out=$(make -s CC=$cc CFLAGS="-O2 -Werror" OBJ=obj/werror-$cc \
	    obj/werror-$cc/bin/gatewayd obj/werror-$cc/regress/imsg_test \
	    obj/werror-$cc/regress/sandbox_test \
	    obj/werror-$cc/regress/stream_unit \
	    obj/werror-$cc/regress/router_unit \
	    obj/werror-$cc/regress/conn_unit \
	    obj/werror-$cc/bin/gatewayctl obj/werror-$cc/regress/ctl_unit 2>&1)
	if [ $? -eq 0 ]; then
		ok "$cc build without warnings"
	else
		notok "$cc build without warnings: $out"
	fi
done
finish
