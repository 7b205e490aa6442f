#!/bin/sh
# /usr/bin/safetymonth as the .deb installs it: the program in /opt/safetymonth/venv with the
# service's configuration, unless --config or SAFETYMONTH_CONFIG names another. Run as root,
# it switches to the store's owner (the safetymonth user) with the passwords of
# /etc/safetymonth/secrets.env loaded, as the units run it.
: "${SAFETYMONTH_CONFIG:=/etc/safetymonth/config.yaml}"
export SAFETYMONTH_CONFIG
exec /opt/safetymonth/venv/bin/safetymonth "$@"
