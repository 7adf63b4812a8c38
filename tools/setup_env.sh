#!/usr/bin/env bash
# Creates (or completes) the virtual environment: torch + torchvision from one index, mmcv 2.1 with its
# compiled ops (built from source once; pip's wheel cache makes later builds instant), then wsss editable
# with the dependencies of pyproject.toml (mmsegmentation, mmdet for Mask2Former, open_clip, ...).
# Every step is skipped when what it installs already imports, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.13.0 torchvision==0.28.0"}
EXTRAS=${EXTRAS:-dev,crf,faiss}
py="$VENV/bin/python"

if [ ! -x "$py" ]; then
  echo "[setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$py" -c 'import sys; assert sys.version_info >= (3, 10), "wsss needs Python >= 3.10"'

if ! "$py" -c 'import torch, torchvision; torchvision.ops.nms' 2>/dev/null; then
  echo "[setup] installing $TORCH_SPEC"
  # --isolated: both wheels from the same index, whatever extra find-links the machine's pip config adds.
  "$py" -m pip --isolated install $TORCH_SPEC
fi

if ! "$py" -c 'import mmcv, mmcv.ops; assert mmcv.__version__.startswith("2.1")' 2>/dev/null; then
  echo "[setup] building mmcv 2.1.0 with ops (first time: ~15 min on 2 cores; then cached by pip)"
  "$py" -m pip install "setuptools<70" wheel ninja psutil
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$py" -m pip install --no-build-isolation "mmcv==2.1.0"
fi

# The stamp is newer than pyproject.toml once its dependencies are installed.
if [ ! -f "$VENV/.wsss-installed" ] || [ pyproject.toml -nt "$VENV/.wsss-installed" ]; then
  echo "[setup] installing wsss[$EXTRAS] (editable)"
  "$py" -m pip install -e ".[$EXTRAS]"
  touch "$VENV/.wsss-installed"
fi
