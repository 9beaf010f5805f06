#!/usr/bin/env bash
# The whole test suite, provisioning included: Node 24, dockerd, Consul, HAProxy, nginx and the
# test image are installed and started when missing (scripts/provision.sh), then lint, typecheck,
# unit tests and integration tests against the real components run.
# Usage: ./scripts/test.sh [jest args…]   (extra args go to both jest runs, e.g. -t 'registrar')
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(bash scripts/provision.sh)"
# Stop dockerd at the end only when this run started it (end only what we started).
if [ -n "${SWITCHYARD_STARTED_DOCKERD_PID:-}" ]; then
  trap 'kill "$SWITCHYARD_STARTED_DOCKERD_PID" 2>/dev/null || true' EXIT
fi
echo "node $(node --version), consul at $SWITCHYARD_CONSUL_BIN, image $SWITCHYARD_TEST_IMAGE"

# Reinstall dependencies only when the lock file changed since the last install.
stamp=node_modules/.switchyard-lock-stamp
if ! [ -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  # Not `npm ci`: the registry mirror here lacks some other-platform optional binaries (e.g.
  # @swc/core-darwin-*), so the lock file cannot list them and `npm ci` refuses it as out of sync.
  # `install --no-save` follows the lock for everything it lists and leaves it untouched.
  npm install --no-save --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

npm run --silent lint
npm run --silent typecheck
npx madge --circular --extensions ts src >/dev/null 2>&1 || { npx madge --circular --extensions ts src; exit 1; }
# The folder rule: a folder imports only its own layer's folder and the layers below (.dependency-cruiser.cjs).
npm run --silent depcruise
npm run --silent build

results=$(mktemp -d)
export NODE_OPTIONS=--experimental-vm-modules
status=0
npx jest --selectProjects unit --json --outputFile="$results/unit.json" "$@" || status=1
npx jest --selectProjects integration --runInBand --json --outputFile="$results/integration.json" "$@" || status=1

# The last lines of a CI log are often all that is kept: end with each failure, short, then the counts.
node -e '
  let p = 0, f = 0, s = 0;
  const failures = [];
  const plain = (t) => String(t).replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter((l) => l.trim() && !/^\s+at /.test(l)).slice(0, 8).join("\n    ").slice(0, 900);
  for (const file of process.argv.slice(1)) {
    try {
      const r = require(file);
      p += r.numPassedTests; f += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0); s += r.numPendingTests;
      for (const suite of r.testResults) {
        const where = require("path").relative(process.cwd(), suite.name);
        if (suite.testExecError || (suite.status === "failed" && suite.assertionResults.length === 0))
          failures.push(`FAILED ${where} (the file did not run)\n    ${plain(suite.message || suite.testExecError?.message || "")}`);
        for (const a of suite.assertionResults)
          if (a.status === "failed") failures.push(`FAILED ${where} › ${a.fullName}\n    ${plain(a.failureMessages.join("\n"))}`);
      }
    } catch { f += 1; failures.push(`FAILED: no results in ${file}`); }
  }
  if (failures.length) console.log(`\n${failures.join("\n")}\n`);
  console.log(`tests: ${p} passed, ${f} failed, ${s} skipped`);
' "$results/unit.json" "$results/integration.json"
rm -rf "$results"
exit $status
