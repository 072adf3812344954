#!/bin/sh
# Shows whether MCpeg runs: `systemctl status mcpeg` as a service, else `mcpeg status`
# with the PID file (extra arguments, e.g. --verbose, go to it). The exit status is the
# command's own. Settings: common.sh.
set -eu
HERE=$(dirname -- "$(readlink -f -- "$0" 2>/dev/null || printf '%s' "$0")")
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

if use_systemd; then
  exec systemctl status --no-pager "$MCPEG_SERVICE"
fi
exec "$MCPEG_BIN" status --pid-file "$MCPEG_PID_FILE" "$@"
