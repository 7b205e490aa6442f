#!/bin/sh
# The .deb's /etc/safetymonth/config.yaml: the repository's config.yaml (the built-in
# defaults, one source) with the installed paths: the store under /var/lib/safetymonth, and
# Maildir folders there until the admin names the IMAP and SMTP servers.
set -eu
src=$1
for key in 'source: maildir:var/inbox' 'outbox: maildir:var/outbox' 'dir: var/storage'; do
    grep -q "^ *$key\$" "$src" || { echo "config.sh: '$key' not found in $src" >&2; exit 1; }
done
cat <<'HEAD'
# safetymonth as installed by the .deb. Edit the campaign, the units, and the mailbox
# (mailbox.source and mailbox.outbox: the IMAP and SMTP servers); the passwords go into
# /etc/safetymonth/secrets.env. After changing campaign.timezone: dpkg-reconfigure safetymonth
# (the reminder timer fires at 09:00 in that zone). Every other value below is the built-in
# default.
HEAD
sed -e '1,/^$/d' \
    -e 's|^\( *source:\) maildir:var/inbox$|\1 maildir:/var/lib/safetymonth/inbox|' \
    -e 's|^\( *outbox:\) maildir:var/outbox$|\1 maildir:/var/lib/safetymonth/outbox|' \
    -e 's|^\( *dir:\) var/storage$|\1 /var/lib/safetymonth/store|' "$src"
