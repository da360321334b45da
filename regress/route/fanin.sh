#!/bin/sh
# 1,000 senders into one reader that does not read (issue 4).
exec /usr/bin/python3 "$TOP/regress/route/fanin_test.py"
