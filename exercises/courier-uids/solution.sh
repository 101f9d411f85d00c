#!/bin/sh
# Reference solution, as root on new: the Maildirs copied from Courier still hold Courier's own
# files (courierimapuiddb, courierpop3dsizelist, courierimapkeywords, courierimapsubscribed);
# turn them into Dovecot's before any client looks (docs/foreign-servers.md).
set -eu
courier-to-dovecot --recursive /var/vmail             # a dry run: what it would write
courier-to-dovecot --recursive --convert /var/vmail
