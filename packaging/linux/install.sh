#!/usr/bin/env bash
# Installs Pusa Studio from this unpacked archive for the current user (no root needed):
#   the app       -> ~/.local/opt/pusa-studio/            (PREFIX/opt/pusa-studio)
#   a launcher    -> ~/.local/bin/pusa-studio             (PREFIX/bin)
#   the icon      -> ~/.local/share/icons/hicolor/scalable/apps/pusa-studio.svg
#   the menu item -> ~/.local/share/applications/pusa-studio.desktop
#   the project file type (.pusa) -> ~/.local/share/mime/packages/pusa-studio.xml
# Usage: ./install.sh [--prefix DIR]      (e.g. --prefix /usr/local with sudo for every user)
# Run it again to upgrade in place; ~/.local/opt/pusa-studio/uninstall.sh removes everything it put.
# Settings, projects, outputs and downloaded models live in your own folders and are never touched.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-$HOME/.local}
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)

APP_DIR="$PREFIX/opt/pusa-studio"
BIN_DIR="$PREFIX/bin"
SHARE_DIR="$PREFIX/share"
LAUNCHER="$BIN_DIR/pusa-studio"
ICON="$SHARE_DIR/icons/hicolor/scalable/apps/pusa-studio.svg"
DESKTOP="$SHARE_DIR/applications/pusa-studio.desktop"
MIME="$SHARE_DIR/mime/packages/pusa-studio.xml"

[ -x "$HERE/PusaStudio/pusa-studio" ] || { echo "install.sh: $HERE/PusaStudio/pusa-studio is missing; unpack the whole archive first" >&2; exit 1; }
VERSION=$(cat "$HERE/VERSION")
echo "Installing Pusa Studio $VERSION into $APP_DIR"

# 1. the app: copy beside the old one, then swap, so a failed copy never leaves a half-installed app
mkdir -p "$PREFIX/opt"
STAGE=$(mktemp -d "$PREFIX/opt/.pusa-studio-new.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
cp -a "$HERE/PusaStudio/." "$STAGE/"
cp "$HERE/uninstall.sh" "$HERE/VERSION" "$STAGE/"
if [ -e "$APP_DIR" ]; then
  OLD="$PREFIX/opt/.pusa-studio-old.$$"
  mv "$APP_DIR" "$OLD"
  mv "$STAGE" "$APP_DIR"
  rm -rf "$OLD"
else
  mv "$STAGE" "$APP_DIR"
fi
trap - EXIT

# 2. the launcher on PATH
mkdir -p "$BIN_DIR"
cat > "$LAUNCHER" <<EOF
#!/bin/sh
# Pusa Studio launcher (written by install.sh; removed by uninstall.sh)
exec "$APP_DIR/pusa-studio" "\$@"
EOF
chmod 755 "$LAUNCHER"

# 3. icon, menu entry (its Exec points at the launcher's full path: ~/.local/bin is not always on PATH
#    for the desktop session) and the .pusa file type
install -D -m 644 "$HERE/share/pusa-studio.svg" "$ICON"
mkdir -p "$(dirname "$DESKTOP")"
sed -e "s|^Exec=.*|Exec=\"$LAUNCHER\" %f|" -e "s|^TryExec=.*||" "$HERE/share/pusa-studio.desktop" > "$DESKTOP"
chmod 644 "$DESKTOP"
install -D -m 644 "$HERE/share/pusa-studio-mime.xml" "$MIME"

# 4. tell the desktop about them (each tool is optional)
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$DESKTOP" || echo "install.sh: warning: desktop-file-validate reported problems above" >&2
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$SHARE_DIR/applications" || true
command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$SHARE_DIR/mime" >/dev/null 2>&1 || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$SHARE_DIR/icons/hicolor/index.theme" ] \
  && gtk-update-icon-cache -q -t "$SHARE_DIR/icons/hicolor" || true

# 5. a record of what was put where, for uninstall.sh
cat > "$APP_DIR/install-manifest.txt" <<EOF
$LAUNCHER
$ICON
$DESKTOP
$MIME
EOF

echo "Done. Start Pusa Studio from your applications menu, or run: $LAUNCHER"
case ":$PATH:" in *":$BIN_DIR:"*) ;; *) echo "(Note: $BIN_DIR is not on your PATH.)" ;; esac
echo "To remove it: $APP_DIR/uninstall.sh"
