#!/bin/sh
# Stops MCpeg gracefully (SIGTERM: requests in flight finish, then it exits):
# `systemctl stop mcpeg` as a service, else `mcpeg stop` with the PID file.
# Extra arguments go to `mcpeg stop` (e.g. --timeout 30s). Settings: common.sh.
set -eu
HERE=$(dirname -- "$(readlink -f -- "$0" 2>/dev/null || printf '%s' "$0")")
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

if use_systemd; then
  exec systemctl stop "$MCPEG_SERVICE"
fi
exec "$MCPEG_BIN" stop --pid-file "$MCPEG_PID_FILE" "$@"
