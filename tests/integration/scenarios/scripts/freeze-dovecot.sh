#!/bin/sh
# Every Dovecot process on this host stops answering (SIGSTOP; matched by process name, not by
# command line, which would match this script too): the next doveadm that talks to this host
# hangs, and the step's timeout must end the run with its name.
pkill -STOP -x 'dovecot|anvil|log|config|auth|stats|doveadm-server|imap-login|pop3-login|imap|pop3'
