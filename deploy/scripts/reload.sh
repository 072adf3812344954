#!/bin/sh
# Reloads MCpeg's configuration without a restart (SIGHUP; an invalid file changes
# nothing): `systemctl reload mcpeg` as a service, else `mcpeg reload` with the PID
# file. Settings: common.sh.
set -eu
HERE=$(dirname -- "$(readlink -f -- "$0" 2>/dev/null || printf '%s' "$0")")
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$HERE/common.sh"

if use_systemd; then
  exec systemctl reload "$MCPEG_SERVICE"
fi
exec "$MCPEG_BIN" reload --pid-file "$MCPEG_PID_FILE" "$@"
