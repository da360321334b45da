#!/bin/sh
# slixmpp and Twisted Words components exchanging stanzas through the
# daemon (issue 4): see exchange_test.py.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export TOP
exec /usr/bin/python3 "$TOP/regress/clients/exchange_test.py"
