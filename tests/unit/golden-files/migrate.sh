#!/bin/sh
# a migration script for the golden tests
while read -r user; do doveadm backup -R -u "$user" tcp:old:12345; done < "$MAILLAB_USERS_FILE"
