#!/bin/sh
# After `doveadm backup -R -A` was killed half-way (docs/faults.md, "SIGKILL of doveadm
# backup"): a user whose mailboxes the killed run was making on new can be left with an INBOX
# of new's own, and every later backup of that user fails with "Mailbox INBOX sync:
# mailbox_delete failed: INBOX can't be deleted" (65). Back up each user once: the others
# resume where the kill stopped them; one that fails so has its half-made home on new removed
# (new holds no mail of its own yet), and the step's rerun copies it afresh.
set -eu
doveadm user '*' | while read -r user; do
    if output=$(doveadm -o mail_fsync=never backup -R -u "$user" tcp:old:12345 2>&1); then
        continue
    fi
    case $output in
        *"INBOX can't be deleted"*)
            rm -rf -- "$(doveadm user -f home -- "$user")"
            echo "$user: the half-made home on new removed: copied afresh by the rerun" ;;
        *) printf '%s\n' "$output" >&2; exit 1 ;;
    esac
done
