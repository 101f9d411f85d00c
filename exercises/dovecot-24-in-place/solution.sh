#!/bin/sh
# Reference solution, as root on the upgraded host: each file of the 2.3 configuration that
# apt kept, said in Dovecot 2.4's words (doc 2.4: installation/upgrade/2.3-to-2.4), then
# Dovecot started again.
set -eu
cd /etc/dovecot

# dovecot.conf: the version lines before any setting; 2.3's mail_location in its three 2.4
# settings, LAYOUT=fs included. Its last line (the lab's include) stays.
sed -i -e '0,/^[a-z]/s//dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n&/' \
       -e 's|^mail_location = maildir:~/Maildir:LAYOUT=fs$|mail_driver = maildir\nmail_path = ~/Maildir\nmailbox_list_layout = fs|' \
       dovecot.conf

# conf.d/10-auth.conf: the sql passdb and userdb read their database from a `mysql` section now;
# the connect string of dovecot-sql.conf.ext becomes its settings.
host=localhost
settings=""
for pair in $(sed -n 's/^connect = //p' dovecot-sql.conf.ext); do
    case $pair in
        host=*) host=${pair#host=} ;;
        *) settings="$settings  ${pair%%=*} = ${pair#*=}
" ;;
    esac
done
cat > conf.d/10-auth.conf <<EOF
sql_driver = mysql
mysql $host {
$settings}
passdb sql {
  default_password_scheme = SHA512-CRYPT
  query = SELECT email AS user, password FROM virtual_users WHERE email='%{user}'
}
userdb sql {
  query = SELECT email AS user, '/var/vmail/%{user | domain}/%{user | username}' AS home, 5000 AS uid, 5000 AS gid FROM virtual_users WHERE email='%{user}'
  iterate_query = SELECT email AS user FROM virtual_users
}
EOF

# conf.d/10-mail.conf: mail_attribute_dict is a mail_attribute block
sed -i 's|^mail_attribute_dict = file:%h/dovecot-attributes$|mail_attribute {\n  dict file {\n    path = %{home}/dovecot-attributes\n  }\n}|' \
    conf.d/10-mail.conf

# conf.d/10-ssl.conf: `ssl_cert = <file` is ssl_server_cert_file = file
sed -i -e 's|^ssl_cert = <|ssl_server_cert_file = |' -e 's|^ssl_key = <|ssl_server_key_file = |' conf.d/10-ssl.conf

# conf.d/20-lmtp.conf: mail_plugins is a block
sed -i 's|^\( *\)mail_plugins = \$mail_plugins sieve$|\1mail_plugins {\n\1  sieve = yes\n\1}|' conf.d/20-lmtp.conf

# conf.d/20-pop3.conf: the same UIDLs (UIDVALIDITY, then UID, 8 hex digits each) in 2.4's syntax
sed -i 's|^pop3_uidl_format = %08Xv%08Xu$|pop3_uidl_format = "%{uidvalidity \| hex(8)}%{uid \| hex(8)}"|' conf.d/20-pop3.conf

# conf.d/90-sieve.conf: plugin { sieve, sieve_before } are sieve_script blocks
cat > conf.d/90-sieve.conf <<'EOF'
sieve_script personal {
  driver = file
  path = ~/sieve
  active_path = ~/.dovecot.sieve
}
sieve_script spam {
  type = before
  path = /etc/dovecot/sieve-before.d/10-spam.sieve
}
service managesieve-login {
  inet_listener sieve {
    port = 4190
  }
}
EOF

doveconf -n > /dev/null    # stops here (set -e) if 2.4 still refuses something
# (restart would fail where supervisord has given up on the broken Dovecot: stop, then start)
supervisorctl stop dovecot > /dev/null 2>&1 || true
supervisorctl start dovecot
tries=0
until doveadm service status imap > /dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 30 ] || { echo "Dovecot did not come up" >&2; exit 1; }
    sleep 1
done
echo "Dovecot $(dovecot --version) runs the translated configuration"
