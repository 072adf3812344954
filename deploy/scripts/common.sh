# shellcheck shell=sh
# Sourced by start.sh, stop.sh, restart.sh, reload.sh and status.sh: the settings they
# share and the choice between systemd and the mcpeg CLI. Every setting can be given in
# the environment:
#   MCPEG_BIN         the mcpeg command                    (default: mcpeg)
#   MCPEG_SERVICE     the systemd unit                     (default: mcpeg.service)
#   MCPEG_USE_SYSTEMD auto, 1 or 0                         (default: auto = when the unit is installed and systemd runs)
#   MCPEG_CONFIG      the config file                      (default: /etc/mcpeg/mcpeg.yaml if it exists, else the embedded default)
#   MCPEG_PID_FILE    the PID file of the CLI daemon       (default: /run/mcpeg/mcpeg.pid for root, else $XDG_RUNTIME_DIR or /tmp)
#   MCPEG_LOG_FILE    the log file of the CLI daemon       (default: /var/log/mcpeg/mcpeg.log for root, else ~/.local/state/mcpeg)

MCPEG_BIN=${MCPEG_BIN:-mcpeg}
MCPEG_SERVICE=${MCPEG_SERVICE:-mcpeg.service}
if [ -z "${MCPEG_CONFIG:-}" ] && [ -f /etc/mcpeg/mcpeg.yaml ]; then
  MCPEG_CONFIG=/etc/mcpeg/mcpeg.yaml
fi
if [ "$(id -u)" = 0 ]; then
  MCPEG_PID_FILE=${MCPEG_PID_FILE:-/run/mcpeg/mcpeg.pid}
  MCPEG_LOG_FILE=${MCPEG_LOG_FILE:-/var/log/mcpeg/mcpeg.log}
else
  MCPEG_PID_FILE=${MCPEG_PID_FILE:-${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/mcpeg.pid}
  MCPEG_LOG_FILE=${MCPEG_LOG_FILE:-${XDG_STATE_HOME:-$HOME/.local/state}/mcpeg/mcpeg.log}
fi

# True when the gateway is managed by systemd: then the scripts use systemctl.
use_systemd() {
  case ${MCPEG_USE_SYSTEMD:-auto} in
    1|yes|true) return 0 ;;
    0|no|false) return 1 ;;
  esac
  command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] &&
    systemctl cat "$MCPEG_SERVICE" >/dev/null 2>&1
}
