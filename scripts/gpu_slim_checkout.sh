#!/usr/bin/env bash
# The GPU machines take at most 64 MiB with a call (checkout + carried folders); the shipped ONNX
# files are 55 MiB of the checkout. Hide them for the call, restore them after (docs/training.md):
#   scripts/gpu_slim_checkout.sh hide      # moves src/landmark3d/weights/*.onnx to $STASH, unstages them
#   scripts/gpu_slim_checkout.sh restore   # puts them back, index as before
# Keep the one a run needs with KEEP=name.onnx (e.g. KEEP=mobilenetv2_gnll.onnx for --init).
set -euo pipefail
cd "$(dirname "$0")/.."
stash="${STASH:-/tmp/landmark3d-weights-stash}"
case "${1:-}" in
  hide)
    mkdir -p "$stash"
    for f in src/landmark3d/weights/*.onnx; do
      [ "$(basename "$f")" = "${KEEP:-}" ] && continue
      mv "$f" "$stash/" && git rm -q --cached "$f"
    done
    git ls-files -z | xargs -0 du -cb | tail -1 | awk '{printf "tracked files now %.1f MiB\n", $1 / 1048576}' ;;
  restore)
    for f in "$stash"/*.onnx; do
      [ -e "$f" ] || continue
      mv "$f" src/landmark3d/weights/ && git reset -q HEAD "src/landmark3d/weights/$(basename "$f")"
    done
    git status --short src/landmark3d/weights ;;
  *) echo "usage: $0 hide|restore" >&2; exit 2 ;;
esac
