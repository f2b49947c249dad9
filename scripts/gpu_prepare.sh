#!/usr/bin/env bash
# Fetch what scripts/gpu_run.sh needs on a GPU machine without network (see ../shared/docs/gpu.md):
# EGL client libraries as Debian packages into .gl/ and Python 3.12 wheels into .whl/.
# Run on a machine with the package index; keep .gl/ and .whl/ out of git (.git/info/exclude).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gl .whl /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update
(cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# The GPU image has torch, torchvision, onnx, onnxruntime, opencv-python-headless, numpy, scipy,
# pillow; the generator needs moderngl, training needs albumentations (+ its pure deps) and tqdm.
# Versions = what this project's venv runs (pip list).
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d .whl \
  moderngl==5.13.0 glcontext==3.1.0 albumentations==2.0.8 albucore==0.0.24 pydantic==2.14.4 \
  pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0 \
  stringzilla==5.3.2 simsimd==6.5.16 PyYAML==6.0.4 tqdm==4.70.1
# The ICT FaceKit cache and the HDRIs travel in .cache/ (git-ignored; ../shared does not reach the
# GPU machine); carry .gl, .whl and .cache: ~47 MiB with the repository's ~12 MiB, under the 64 MiB limit.
py="${PYTHON:-python3}"; [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && py=.venv/bin/python
shared="${LANDMARK3D_SHARED:-../shared}"
mkdir -p .cache/hdri
cache="${LANDMARK3D_CACHE:-$HOME/.cache/landmark3d}/ict_facekit_v1.npz"
if [ -f "$cache" ]; then cp "$cache" .cache/; else PYTHONPATH=src "$py" -m landmark3d.cli synth --build-cache --cache .cache/ict_facekit_v1.npz; fi
cp "$shared"/assets/hdri/*.hdr .cache/hdri/
du -sh .gl .whl .cache
