#!/bin/sh
# Reference solution, run as root on new (Dovecot 2.4): translate old's 2.3 settings into
# 2.4's language, start Dovecot, then migrate.
set -eu
# -n: ssh must not read stdin (pasted into a shell, the rest of this script is stdin)
ssh="ssh -n -i $MAILLAB_SSH_KEY -o BatchMode=yes"
conf=/etc/dovecot/maillab.d/45-local.conf

# 1. Each 2.3 setting in 2.4's words (Dovecot's 2.4 upgrade notes):
#    disable_plaintext_auth = no  ->  auth_allow_cleartext = yes
#    %08Xv%08Xu                   ->  %{uidvalidity | hex(8)}%{uid | hex(8)}  (the same UIDLs)
sed -i \
    -e 's/^disable_plaintext_auth = no$/auth_allow_cleartext = yes/' \
    -e 's/^pop3_uidl_format = %08Xv%08Xu$/pop3_uidl_format = %{uidvalidity | hex(8)}%{uid | hex(8)}/' \
    "$conf"
doveconf -n > /dev/null    # stops here (set -e) if 2.4 still refuses something
doveconf pop3_uidl_format

# 2. Dovecot up again, and answering.
# (restart would fail where supervisord has given up on the broken Dovecot: stop, then start)
supervisorctl stop dovecot > /dev/null 2>&1 || true
supervisorctl start dovecot
tries=0
until doveadm service status imap > /dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 30 ] || { echo "Dovecot did not come up" >&2; exit 1; }
    sleep 1
done

# 3. The users, then the mail (POP3 UIDLs are computed from UIDVALIDITY and UID, which
#    doveadm backup keeps, so the format above gives POP3 clients the same UIDLs).
$ssh root@"$MAILLAB_OLD_HOST" mysqldump mailserver > /root/mailserver.sql
mysql mailserver < /root/mailserver.sql
doveadm backup -R -A "tcp:$MAILLAB_OLD_HOST:$MAILLAB_DOVEADM_PORT"
echo "mail copied"
