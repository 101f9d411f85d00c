#!/bin/sh
# A script that prints what it should not: every lab secret in its output must be masked in
# the report. Then it migrates.
echo "doveadm password: $MAILLAB_DOVEADM_PASSWORD"
cat "$MAILLAB_SSH_KEY"
grep -h password /etc/dovecot/maillab.d/90-secrets.conf /etc/dovecot/dovecot-sql.conf.ext
doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
