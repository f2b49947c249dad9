#!/usr/bin/env bash
# One command for a GPU machine (see docs/training.md and ../shared/docs/gpu.md):
#   scripts/gpu_run.sh OUT_DIR [gpu_run options...]
# Sets up the EGL client libraries (.gl/*.deb) and wheels (.whl/*.whl) when present, then renders,
# trains, exports and writes the results to OUT_DIR (files over 16 MiB split into parts).
# On a CPU machine it runs as is (pass tiny sizes: --count 16 --size 96 --input-size 48 --backbone tiny --steps 4).
set -euo pipefail
out="${1:?usage: scripts/gpu_run.sh OUT_DIR [options]}"; shift
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
if compgen -G ".gl/*.deb" > /dev/null; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig || true
fi
if compgen -G ".whl/*.whl" > /dev/null; then
  # (the wheels are for the GPU machine's Python 3.12; elsewhere they may not install: say so, go on)
  if python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl; then
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
  else
    echo "WARNING: .whl/*.whl did not install for $(python3 --version); using this Python's packages" >&2
  fi
fi
export PYTHONPATH="$here/src:${PYTHONPATH:-}"
# A carried .cache/ (git-ignored) may hold the prepared ICT cache and the HDRIs (../shared does not travel).
if [ -f .cache/ict_facekit_v1.npz ]; then export LANDMARK3D_CACHE="$here/.cache"; fi
if [ -d .cache/hdri ]; then export LANDMARK3D_HDRI="$here/.cache/hdri"; fi
nvidia_egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -f "$nvidia_egl" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES="$nvidia_egl"; fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" PYTHONUNBUFFERED=1
export NO_ALBUMENTATIONS_UPDATE=1  # albumentations otherwise asks the network for its latest version
py="${PYTHON:-python3}"
[ -x "$here/.venv/bin/python" ] && [ -z "${PYTHON:-}" ] && py="$here/.venv/bin/python"
# Say which OpenGL renderer the generator will get (llvmpipe = CPU), before spending the budget.
"$py" -c "import moderngl; c = moderngl.create_context(standalone=True, backend='egl'); print('OpenGL:', c.info['GL_RENDERER'])" \
  || echo "WARNING: no EGL context; rendering will fail (see ../shared/docs/gpu.md)" >&2
aflw=()
shared="${LANDMARK3D_SHARED:-$here/../shared}"
if [ -f "$shared/data/aflw2000-3d-dev/ground_truth.npz" ]; then aflw=(--aflw "$shared/data/aflw2000-3d-dev"); fi
exec "$py" -m landmark3d.train.gpu_run --out "$out" "${aflw[@]}" "$@"
