#!/bin/sh
# On new, without -R: new (still empty) is the source and old the destination, so doveadm
# deletes old's mail to match new. It exits 0.
set -eu
doveadm backup -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
