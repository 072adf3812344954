#!/usr/bin/env bash
# Run the MCP conformance suite (@modelcontextprotocol/conformance 0.2.0-alpha.12;
# server scenarios, active suite by default)
# against a Streamable HTTP MCP endpoint.
#
# usage: scripts/conformance.sh URL [extra conformance args...]
#   e.g. scripts/conformance.sh http://127.0.0.1:3001/mcp
#        scripts/conformance.sh http://127.0.0.1:3001/mcp --scenario tools-call-sampling
#        scripts/conformance.sh http://127.0.0.1:3001/mcp --suite all --verbose
#        scripts/conformance.sh http://127.0.0.1:3001/mcp --suite all --spec-version 2026-07-28
#        scripts/conformance.sh http://127.0.0.1:3001/mcp --requirements 2026-07-28
#
# Uses the Node 22 binary from tools/conformance (the conformance CLI needs Node 22).
# Prints the per-scenario pass/fail summary; exits non-zero if any check failed.
# Use 127.0.0.1 rather than localhost in URL (the dns-rebinding-protection
# scenario requires a loopback URL; localhost may resolve to ::1).
set -uo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 URL [extra conformance args...]" >&2
  exit 2
fi
URL="$1"; shift

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools/conformance"
NODE22="${NODE22:-$TOOLS/node_modules/node/bin/node}"
CLI="$TOOLS/node_modules/@modelcontextprotocol/conformance/dist/index.js"

# The suite and its Node 22 live in their own lockfile (tools/conformance): install on first use.
if [[ ! -x "$NODE22" || ! -f "$CLI" ]]; then
  echo "conformance.sh: installing the conformance suite from tools/conformance/package-lock.json" >&2
  (cd "$TOOLS" && npm ci --no-audit --no-fund >&2) || { echo "conformance.sh: npm ci in tools/conformance failed" >&2; exit 2; }
fi

if [[ ! -x "$NODE22" ]]; then echo "conformance.sh: Node 22 binary not found at $NODE22" >&2; exit 2; fi
if [[ ! -f "$CLI" ]]; then echo "conformance.sh: conformance CLI not found at $CLI" >&2; exit 2; fi

# Default to the active suite unless the caller picked a scenario, a suite or a
# frozen requirements set (the CLI refuses --requirements combined with --suite).
SUITE_ARGS=(--suite active)
for a in "$@"; do
  case "$a" in
    --scenario|--scenario=*|--suite|--suite=*|--requirements|--requirements=*) SUITE_ARGS=() ;;
  esac
done

LOG="$(mktemp -t conformance.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT

"$NODE22" "$CLI" server --url "$URL" "${SUITE_ARGS[@]}" "$@" >"$LOG" 2>&1
RC=$?

# The CLI prints verbose per-check output; show the summary block (suite runs)
# or the result/failure block (single scenario runs), plus any failures.
if grep -q '=== SUMMARY ===' "$LOG"; then
  sed -n '/=== SUMMARY ===/,$p' "$LOG"
  FAILED_SCENARIOS="$(grep -E '^✗ ' "$LOG" || true)"
  if [[ -n "$FAILED_SCENARIOS" ]]; then
    echo
    echo "=== Failed checks ==="
    grep -E '^\s*(✗|Error:)|FAILURE' "$LOG" | head -200
  fi
else
  sed -n '/Test Results:/,$p' "$LOG"
  if ! grep -q 'Test Results:' "$LOG"; then cat "$LOG"; fi
fi

if [[ $RC -ne 0 ]]; then
  echo
  echo "conformance: FAILED (exit $RC) against $URL" >&2
  [[ -n "${CONFORMANCE_LOG:-}" ]] && cp "$LOG" "$CONFORMANCE_LOG"
  exit "$RC"
fi
[[ -n "${CONFORMANCE_LOG:-}" ]] && cp "$LOG" "$CONFORMANCE_LOG"
echo "conformance: all checks passed against $URL"
exit 0
