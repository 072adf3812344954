#!/bin/sh
# Starts MCpeg: `systemctl start mcpeg` when it is installed as a service, else
# `mcpeg gateway --daemon` with a PID file and a log file. Extra arguments go to
# `mcpeg gateway` (e.g. --port 9000). Settings: common.sh.
set -eu
HERE=$(dirname -- "$(readlink -f -- "$0" 2>/dev/null || printf '%s' "$0")")
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

if use_systemd; then
  exec systemctl start "$MCPEG_SERVICE"
fi
mkdir -p -- "$(dirname -- "$MCPEG_PID_FILE")" "$(dirname -- "$MCPEG_LOG_FILE")"
if [ -n "${MCPEG_CONFIG:-}" ]; then
  set -- --config "$MCPEG_CONFIG" "$@"
fi
exec "$MCPEG_BIN" gateway --daemon --pid-file "$MCPEG_PID_FILE" --log-file "$MCPEG_LOG_FILE" "$@"
