#!/bin/sh
# The migration doc's warning, written by someone who forgot -R: run on new, `doveadm backup`
# makes the destination (old) look like the source (new, still empty). doveadm exits 0.
set -eu
doveadm backup -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
