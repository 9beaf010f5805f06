#!/bin/sh
# The image's entrypoint. Switchyard never runs as root: the image's user is switchyard (10001).
# Started as root (the demo compose file does this so no one has to look up the Docker socket's
# group id), it drops to switchyard at once, with the socket's group added, no capabilities and
# no way to regain privileges. docs/image.md explains both ways to give it the socket.
set -eu
# The bin's own Node flag (src/cli/main.ts's first line), which `node FILE` does not read.
APP="node --max-semi-space-size=1 /app/dist/src/cli/main.js"

if [ "$(id -u)" = 0 ]; then
  groups=10001
  case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
    unix://*)
      sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
      sock=${sock#unix://}
      if [ -S "$sock" ]; then
        gid=$(stat -c %g "$sock")
        # A socket owned by group root (Docker Desktop) still needs group 0; that gives no file access beyond it.
        groups="$groups,$gid"
      fi
      ;;
  esac
  # shellcheck disable=SC2086 # APP is two words on purpose
  exec setpriv --reuid=10001 --regid=10001 --groups="$groups" --inh-caps=-all --bounding-set=-all --no-new-privs -- $APP "$@"
fi
# shellcheck disable=SC2086
exec $APP "$@"
