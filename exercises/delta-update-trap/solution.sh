#!/bin/sh
# On new: the delta from old. sync -1 is one-way like backup (-R: old is the source) but keeps
# what only new has: the mail delivered to new since the MX switch.
set -eu
doveadm sync -1 -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
