#!/usr/bin/env bash
# Provisions what the side-by-side benchmarks need beyond scripts/provision.sh: consul-template
# v0.33.0, the last MPL-2.0 release (v0.34+ are BUSL: never use them). Bench only; the test suite
# does not need it. Idempotent: the binary is cached under ~/.cache/switchyard.
# Prints `export SWITCHYARD_CONSUL_TEMPLATE_BIN=…` on stdout, like provision.sh.
#
# `go install …@v0.33.0` is refused because the module's go.mod has replace directives, so the
# module is downloaded from the Go module proxy and built in a copy of it.
set -euo pipefail

CACHE="${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}"
CT_VERSION=v0.33.0
CT_BIN="$CACHE/consul-template-$CT_VERSION/consul-template"
log() { printf '[provision-bench] %s\n' "$*" >&2; }
command -v go >/dev/null 2>&1 || { log "go is not installed"; exit 1; }

if ! [ -x "$CT_BIN" ]; then
  log "building consul-template $CT_VERSION from its Go module"
  modjson=$(go mod download -json "github.com/hashicorp/consul-template@$CT_VERSION")
  moddir=$(printf '%s' "$modjson" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$moddir" ] || { log "go mod download gave no module folder: $modjson"; exit 1; }
  if ! head -n 5 "$moddir/LICENSE" | grep -q 'Mozilla Public License'; then
    log "consul-template $CT_VERSION is not MPL-2.0: refusing to build"
    exit 1
  fi
  src=$(mktemp -d "$CACHE/consul-template-src.XXXXXX")
  trap 'rm -rf "$src"' EXIT
  cp -r "$moddir/." "$src"
  chmod -R u+w "$src"
  mkdir -p "$(dirname "$CT_BIN")"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$CT_BIN.tmp.$$" . >&2)
  mv "$CT_BIN.tmp.$$" "$CT_BIN"
fi
"$CT_BIN" -v 2>&1 | sed -n 1p >&2

echo "export SWITCHYARD_CONSUL_TEMPLATE_BIN=\"$CT_BIN\""
