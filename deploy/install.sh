#!/bin/sh
# Installs MCpeg as a systemd service: the service user, its directories, a default
# configuration (never overwriting one that exists) and the unit, then reloads systemd.
# MCpeg itself is installed first, e.g. `npm install -g mcpeg` (docs/deploy.md).
#
#   sudo deploy/install.sh [--enable]        install, and with --enable also start it
#   deploy/install.sh --dry-run              print what would be done, change nothing
#   deploy/install.sh --root /tmp/stage      install into a staging root (no root needed:
#                                            no user is created, nothing is chowned, systemctl is not run)
set -eu

usage() {
  cat <<'USAGE'
Usage: install.sh [options]
  --root DIR      install below DIR instead of / (also --destdir, --prefix, DESTDIR=DIR); creates no user,
                  chowns nothing and runs no systemctl: for packaging and tests
  --dry-run       print each action instead of doing it
  --mcpeg PATH    the mcpeg executable the unit runs (default: `command -v mcpeg`)
  --user NAME     the service user and group (default: mcpeg)
  --enable        also `systemctl enable --now mcpeg.service`
  -h, --help      this text
USAGE
}

ROOT=${DESTDIR:-}
DRY_RUN=0
ENABLE=0
SVC_USER=mcpeg
MCPEG=

while [ $# -gt 0 ]; do
  case $1 in
    --root|--destdir|--prefix) [ $# -ge 2 ] || { echo "install.sh: $1 needs a directory" >&2; exit 2; }; ROOT=$2; shift 2 ;;
    --root=*|--destdir=*|--prefix=*) ROOT=${1#*=}; shift ;;
    --mcpeg) [ $# -ge 2 ] || { echo "install.sh: --mcpeg needs a path" >&2; exit 2; }; MCPEG=$2; shift 2 ;;
    --mcpeg=*) MCPEG=${1#*=}; shift ;;
    --user) [ $# -ge 2 ] || { echo "install.sh: --user needs a name" >&2; exit 2; }; SVC_USER=$2; shift 2 ;;
    --user=*) SVC_USER=${1#*=}; shift ;;
    --dry-run|-n) DRY_RUN=1; shift ;;
    --enable) ENABLE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# Strip a trailing slash so "$ROOT/etc" never has "//".
ROOT=${ROOT%/}
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
UNIT_SRC=$HERE/systemd/mcpeg.service
CONFIG_SRC=$HERE/config/mcpeg.yaml
CONF_DIR=$ROOT/etc/mcpeg
STATE_DIR=$ROOT/var/lib/mcpeg
LOG_DIR=$ROOT/var/log/mcpeg
UNIT_DIR=$ROOT/etc/systemd/system
UNIT=$UNIT_DIR/mcpeg.service

say() { printf 'install.sh: %s\n' "$*"; }
# "installed" or, under --dry-run, "would install".
INSTALLED=installed
[ "$DRY_RUN" = 0 ] || INSTALLED="would install"
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
# Runs a command, or prints it under --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ %s\n' "$*"
  else
    "$@"
  fi
}
# Under --root nothing is chowned: the user does not exist there.
own() {
  if [ -z "$ROOT" ]; then run chown "$@"; fi
}

[ -f "$UNIT_SRC" ] || die "missing $UNIT_SRC (run the script from its deploy/ folder)"
[ -f "$CONFIG_SRC" ] || die "missing $CONFIG_SRC"
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (or try --dry-run, or --root DIR for a staging tree)"
fi

# The program the unit runs: an absolute path, so systemd's own PATH does not matter.
if [ -z "$MCPEG" ]; then
  MCPEG=$(command -v mcpeg || true)
fi
case $MCPEG in
  '') say "warning: mcpeg is not on PATH (install it first: npm install -g mcpeg); the unit keeps 'ExecStart=/usr/bin/env mcpeg ...'" ;;
  *[[:space:]]*) die "the mcpeg path must not contain spaces: $MCPEG" ;;
  /*) ;;
  *) die "--mcpeg must be an absolute path, got: $MCPEG" ;;
esac
case $SVC_USER in
  ''|-*|*[!a-z0-9_-]*) die "--user: expected a name of a-z, 0-9, _ and -, got: $SVC_USER" ;;
esac
# mcpeg starts with '#!/usr/bin/env node': node must be on the service's PATH.
# The PATH systemd gives services (systemd.exec(5)).
SYSTEMD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NODE_DIR=
NODE=$(command -v node || true)
if [ -n "$NODE" ]; then
  NODE_DIR=$(dirname -- "$NODE")
  case ":$SYSTEMD_PATH:" in
    *":$NODE_DIR:"*) NODE_DIR= ;;
  esac
fi
for p in "$MCPEG" "$NODE"; do
  case $p in
    /home/*|/root/*|/run/user/*) say "warning: $p is under a home directory, which ProtectHome=yes hides from the service: install Node.js and mcpeg system-wide (e.g. under /usr/local)" ;;
  esac
done

# 1. The service user: a system account without a login shell, home /var/lib/mcpeg.
if [ -n "$ROOT" ]; then
  say "skipped under --root: creating the system user $SVC_USER"
elif id -u "$SVC_USER" >/dev/null 2>&1; then
  say "user $SVC_USER exists"
else
  command -v useradd >/dev/null 2>&1 || die "useradd not found: create the system user $SVC_USER yourself and run again"
  if getent group "$SVC_USER" >/dev/null 2>&1; then
    run useradd --system --no-create-home --home-dir /var/lib/mcpeg --shell /usr/sbin/nologin --gid "$SVC_USER" "$SVC_USER"
  else
    run useradd --system --no-create-home --home-dir /var/lib/mcpeg --shell /usr/sbin/nologin --user-group "$SVC_USER"
  fi
  [ "$DRY_RUN" = 1 ] || say "created the system user $SVC_USER"
fi

# 2. Directories: config readable by the service's group only; state and logs its own.
run mkdir -p "$CONF_DIR" "$STATE_DIR" "$LOG_DIR" "$UNIT_DIR"
run chmod 0750 "$CONF_DIR" "$STATE_DIR" "$LOG_DIR"
own "root:$SVC_USER" "$CONF_DIR"
own "$SVC_USER:$SVC_USER" "$STATE_DIR" "$LOG_DIR"

# 3. The default configuration, only if there is none.
if [ -e "$CONF_DIR/mcpeg.yaml" ]; then
  say "kept the existing $CONF_DIR/mcpeg.yaml"
else
  run cp "$CONFIG_SRC" "$CONF_DIR/mcpeg.yaml"
  run chmod 0640 "$CONF_DIR/mcpeg.yaml"
  own "root:$SVC_USER" "$CONF_DIR/mcpeg.yaml"
  say "$INSTALLED the default configuration $CONF_DIR/mcpeg.yaml"
fi

# 4. The unit, with the absolute mcpeg path (and node's directory on PATH if needed).
escape() { printf '%s' "$1" | sed 's/[\\|&]/\\&/g'; }
set -- -e "s|^User=mcpeg\$|User=$(escape "$SVC_USER")|" -e "s|^Group=mcpeg\$|Group=$(escape "$SVC_USER")|"
if [ -n "$MCPEG" ]; then
  set -- "$@" -e "s|^ExecStart=/usr/bin/env mcpeg |ExecStart=$(escape "$MCPEG") |"
fi
if [ -n "$NODE_DIR" ]; then
  set -- "$@" -e "s|^Environment=NODE_ENV=production\$|&\\
Environment=PATH=$(escape "$NODE_DIR"):$SYSTEMD_PATH|"
fi
if [ "$DRY_RUN" = 1 ]; then
  printf '+ sed %s %s > %s\n' "$*" "$UNIT_SRC" "$UNIT"
else
  sed "$@" "$UNIT_SRC" >"$UNIT.tmp"
  chmod 0644 "$UNIT.tmp"
  mv "$UNIT.tmp" "$UNIT"
fi
say "$INSTALLED $UNIT"

# 5. Tell systemd.
if [ -n "$ROOT" ]; then
  say "skipped under --root: systemctl daemon-reload"
elif ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
  say "systemd is not running here: skipped systemctl daemon-reload"
else
  run systemctl daemon-reload
  if [ "$ENABLE" = 1 ]; then
    run systemctl enable --now mcpeg.service
  fi
fi

if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ -n "$MCPEG" ]; then
  if ! "$MCPEG" validate --config "$CONF_DIR/mcpeg.yaml" >/dev/null; then
    say "warning: $CONF_DIR/mcpeg.yaml is not valid (see above); fix it before starting the service"
  fi
fi
[ "$ENABLE" = 1 ] || say "next: systemctl enable --now mcpeg.service   (logs: journalctl -u mcpeg)"
