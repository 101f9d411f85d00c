#!/bin/sh
# On new: the initial copy's command once more. backup makes new look exactly like old, so the
# mail that reached new after the MX switch is deleted.
set -eu
doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
