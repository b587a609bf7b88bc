#!/bin/bash
# Starts RabbitMQ as the official image does, for what compose.yaml relies on: the user
# RABBITMQ_DEFAULT_USER with RABBITMQ_DEFAULT_PASS (an administrator, made on the first start of an
# empty data directory, as the broker does with its default_user settings), the management plugin,
# and the broker in the foreground as the rabbitmq user.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$0" "$@"
fi

if [ "${1:-rabbitmq-server}" != rabbitmq-server ]; then
    exec "$@"
fi

export HOME=/var/lib/rabbitmq
conf=/etc/rabbitmq/conf.d/10-defaults.conf
mkdir -p "$(dirname "$conf")"
{
    echo "loopback_users.guest = true"
    if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then echo "default_user = $RABBITMQ_DEFAULT_USER"; fi
    if [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then echo "default_pass = $RABBITMQ_DEFAULT_PASS"; fi
} >"$conf"
chmod 600 "$conf"

exec /usr/lib/rabbitmq/bin/rabbitmq-server
