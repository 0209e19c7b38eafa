#!/usr/bin/env bash
# Builds the frozen app (build.spec) and packs the Linux archive:
#   dist/PusaStudio-<version>-linux-x86_64.tar.gz
#     PusaStudio-<version>-linux-x86_64/{install.sh, uninstall.sh, VERSION, README.txt, share/, PusaStudio/}
# Usage: packaging/make-tarball.sh [--no-build] [--stage DIR]
#   --no-build   pack an existing dist/PusaStudio
#   --stage DIR  only lay out the unpacked archive in DIR (hard links, no tar): what the tests install from
# Run it with the project's .venv (scripts/setup.sh makes it). Needs ~12 GB free disk during the build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
BUILD=1
STAGE_ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0; shift ;;
    --stage) STAGE_ONLY=${2:?--stage needs a folder}; shift 2 ;;
    *) echo "make-tarball: unknown option $1" >&2; exit 2 ;;
  esac
done

VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCH=$(uname -m)
NAME="PusaStudio-$VERSION-linux-$ARCH"

if [ "$BUILD" = 1 ]; then
  start=$(date +%s)
  "$PY" -m PyInstaller --noconfirm --clean --log-level WARN build.spec
  echo "make-tarball: PyInstaller build took $(( $(date +%s) - start )) s"
fi
[ -x dist/PusaStudio/pusa-studio ] || { echo "make-tarball: dist/PusaStudio/pusa-studio is missing" >&2; exit 1; }

got=$(dist/PusaStudio/pusa-studio --version)
[ "$got" = "Pusa Studio $VERSION" ] || { echo "make-tarball: the bundle says '$got', expected 'Pusa Studio $VERSION'" >&2; exit 1; }

STAGE_ROOT=${STAGE_ONLY:-build/tarball}
STAGE="$STAGE_ROOT/$NAME"
rm -rf "$STAGE_ROOT" && mkdir -p "$STAGE/share"
cp packaging/linux/install.sh packaging/linux/uninstall.sh "$STAGE/"
chmod 755 "$STAGE/install.sh" "$STAGE/uninstall.sh"
echo "$VERSION" > "$STAGE/VERSION"
cp resources/pusa-studio.desktop "$STAGE/share/pusa-studio.desktop"
cp resources/icons/pusa-studio.svg "$STAGE/share/pusa-studio.svg"
cp packaging/linux/pusa-studio-mime.xml "$STAGE/share/pusa-studio-mime.xml"
cat > "$STAGE/README.txt" <<TXT
Pusa Studio $VERSION for Linux ($ARCH)

Install for your user:   ./install.sh          (or ./install.sh --prefix DIR)
Then start it from the applications menu, or run ~/.local/bin/pusa-studio.
Check it works:          ~/.local/opt/pusa-studio/pusa-studio --self-test
Remove it:               ~/.local/opt/pusa-studio/uninstall.sh

Model weights are not included: on first start the app runs its small built-in demo model and its
settings show where to put the Wan2.1-T2V-14B and Pusa V1 files. An NVIDIA driver supporting CUDA 13
is needed for GPU generation; without one the app runs on the CPU.
TXT
# hard links, not a second 4 GB copy
cp -al dist/PusaStudio "$STAGE/PusaStudio" 2>/dev/null || cp -a dist/PusaStudio "$STAGE/PusaStudio"
if [ -n "$STAGE_ONLY" ]; then
  echo "make-tarball: staged $STAGE"
  exit 0
fi

OUT="dist/$NAME.tar.gz"
start=$(date +%s)
if command -v pigz >/dev/null 2>&1; then COMPRESS="pigz -6"; else COMPRESS="gzip -6"; fi
tar -C build/tarball --owner=0 --group=0 -I "$COMPRESS" -cf "$OUT" "$NAME"
rm -rf build/tarball
echo "make-tarball: packed in $(( $(date +%s) - start )) s"
echo "make-tarball: $OUT ($(du -h "$OUT" | cut -f1); unpacked $(du -sh dist/PusaStudio | cut -f1))"
