#!/bin/sh
# Setup (not the trainee's work): the Roundcube on the new server is installed and configured.
# Only its configuration matters here: it names the IMAP host Roundcube logs in to. (The lab
# runs no PHP: Roundcube itself is not there, its database is.)
set -eu
mkdir -p /etc/roundcube
cat > /etc/roundcube/config.inc.php <<'PHP'
<?php
// Roundcube on the new server (excerpt)
$config['db_dsnw'] = 'mysql://roundcube:***@localhost/roundcube';
$config['imap_host'] = 'tls://new:143';
$config['smtp_host'] = 'tls://new:587';
PHP
echo "Roundcube configured on new: imap_host tls://new:143"
