#!/bin/sh
# Restarts MCpeg (a new process on the same port): `systemctl restart mcpeg` as a
# service, else `mcpeg restart` with the PID file. Settings: common.sh.
set -eu
HERE=$(dirname -- "$(readlink -f -- "$0" 2>/dev/null || printf '%s' "$0")")
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

if use_systemd; then
  exec systemctl restart "$MCPEG_SERVICE"
fi
exec "$MCPEG_BIN" restart --pid-file "$MCPEG_PID_FILE" "$@"
