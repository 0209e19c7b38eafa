#!/usr/bin/env bash
# Removes Pusa Studio as installed by install.sh: the app folder, its launcher, icon, menu entry and
# file type. Your settings, projects, outputs and model folders are kept (they are yours, not the app's).
# Usage: ~/.local/opt/pusa-studio/uninstall.sh            (the copy inside the installed app)
#        ./uninstall.sh [--prefix DIR]                     (from the unpacked archive)
set -euo pipefail

SELF_DIR=$(cd "$(dirname "$0")" && pwd)
if [ -f "$SELF_DIR/install-manifest.txt" ]; then
  APP_DIR=$SELF_DIR                                   # run from inside the installed app
  PREFIX=$(cd "$APP_DIR/../.." && pwd)
else
  PREFIX=${PREFIX:-$HOME/.local}
  APP_DIR=""
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a folder}; APP_DIR=""; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; APP_DIR=""; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
APP_DIR=${APP_DIR:-$PREFIX/opt/pusa-studio}
MANIFEST="$APP_DIR/install-manifest.txt"

if [ ! -f "$MANIFEST" ] || [ ! -x "$APP_DIR/pusa-studio" ]; then
  echo "uninstall.sh: no Pusa Studio installed in $APP_DIR (nothing removed)" >&2
  exit 1
fi

# only the files install.sh recorded, and only if they are ours
while IFS= read -r f; do
  [ -n "$f" ] || continue
  case "$f" in
    */bin/pusa-studio|*/share/icons/hicolor/*/apps/pusa-studio.*|*/share/applications/pusa-studio.desktop|*/share/mime/packages/pusa-studio.xml)
      rm -f -- "$f" ;;
    *) echo "uninstall.sh: skipping unexpected manifest entry $f" >&2 ;;
  esac
done < "$MANIFEST"
rm -rf -- "$APP_DIR"
rmdir "$PREFIX/opt" 2>/dev/null || true

SHARE_DIR="$PREFIX/share"
command -v update-desktop-database >/dev/null 2>&1 && [ -d "$SHARE_DIR/applications" ] \
  && update-desktop-database -q "$SHARE_DIR/applications" || true
command -v update-mime-database >/dev/null 2>&1 && [ -d "$SHARE_DIR/mime/packages" ] \
  && update-mime-database "$SHARE_DIR/mime" >/dev/null 2>&1 || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$SHARE_DIR/icons/hicolor/index.theme" ] \
  && gtk-update-icon-cache -q -t "$SHARE_DIR/icons/hicolor" || true

echo "Pusa Studio removed from $PREFIX. Your settings, projects and videos were kept."
