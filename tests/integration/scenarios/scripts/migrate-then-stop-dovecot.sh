#!/bin/sh
# ISPmail's maintenance window done by a script that misses its last line: the copy is made,
# Dovecot is stopped for the index rebuild, and nothing starts it again. Exits 0.
set -eu
doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
supervisorctl stop dovecot
