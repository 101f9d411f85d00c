#!/bin/sh
# A WRONG solution: Dovecot is made to start by declaring the version and commenting out each
# setting 2.4 refuses until doveconf takes the rest, instead of translating it. Dovecot starts;
# what those settings did is gone with them.
set -eu
sed -i '0,/^[a-z]/s//dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n&/' /etc/dovecot/dovecot.conf
until doveconf -n > /dev/null 2> /tmp/doveconf.err; do
    where=$(sed -n 's/.*Error in configuration file \([^ ]*\) line \([0-9]*\):.*/\1 \2/p' /tmp/doveconf.err)
    name=$(sed -n 's/.*Error: \([a-z0-9_]*\) setting .*/\1/p' /tmp/doveconf.err | head -n 1)
    if [ -n "$where" ]; then    # a line: comment it out
        set -- $where
        sed -i "$2s/^/#/" "$1"
    elif [ -n "$name" ]; then   # a setting without its line: comment it out wherever it is set
        grep -rlE "^ *$name *=" /etc/dovecot | xargs sed -i -E "s/^( *$name *=)/#\1/"
    else
        cat /tmp/doveconf.err >&2
        exit 1
    fi
done
supervisorctl stop dovecot > /dev/null 2>&1 || true
supervisorctl start dovecot
