#!/bin/sh
# On new: pull every user from old. -R reverses doveadm backup's direction, so old is the
# source and new the destination that is made to look like it; old is only read.
set -eu
doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
