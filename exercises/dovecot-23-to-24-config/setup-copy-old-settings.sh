#!/bin/sh
# Setup (not the trainee's work): the admin copied the local settings of the old Dovecot 2.3
# server onto the new Dovecot 2.4 one as they were, and restarted Dovecot. 2.4 refuses them
# ("Unknown setting: disable_plaintext_auth"), so Dovecot on new is down.
set -eu
conf=/etc/dovecot/maillab.d/45-local.conf
cat > "$conf" <<'CONF'
# Local settings, copied from the old server (Dovecot 2.3)
disable_plaintext_auth = no
# POP3 clients know their mail by these UIDLs: UIDVALIDITY, then UID, 8 hex digits each
pop3_uidl_format = %08Xv%08Xu
CONF
chgrp dovecot "$conf"
chmod 0640 "$conf"
supervisorctl restart dovecot || true   # fails: 2.4 does not start with these settings
doveconf -n > /dev/null 2>/tmp/doveconf.err || true
cat /tmp/doveconf.err
