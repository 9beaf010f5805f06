#!/bin/sh
# Serves "<color> v<version> <container>" on every path. The container is named by its hostname,
# which Docker sets to the short container id that Switchyard's log lines carry as containerId.
set -eu
www=/tmp/www
mkdir -p "$www"
printf '%s v%s %s\n' "$COLOR" "$VERSION" "$(hostname)" >"$www/index.html"
printf 'ok\n' >"$www/health"
httpd -f -p "$PORT" -h "$www" &
pid=$!
# On SIGTERM keep answering for STOP_DELAY seconds: Switchyard takes the instance out of rotation
# when Docker announces the stop, and requests already on their way still get an answer.
stop() {
  sleep "$STOP_DELAY"
  kill "$pid" 2>/dev/null || true
  exit 0
}
trap stop TERM INT
echo "demo-app: $COLOR v$VERSION listening on :$PORT"
wait "$pid"
