#!/usr/bin/env bash
# The one prepared check of GPU JPEG decoding for a GPU host (issue 31): a virtual environment
# with a CUDA torch and the gpu extra, the GPU JPEG tests, then benchmarks/gpu_check.py (its
# arguments are passed on). Run from anywhere:
#
#     bash benchmarks/gpu_check.sh [--photos 64] [--batch-size 64] [--out figures.json]
#
# Where python3 already holds a CUDA torch and its torchvision, the environment is made with
# --system-site-packages and keeps them; elsewhere pip installs both from TORCH_INDEX. A host
# without network installs from wheels put in .whl/ (OFFLINE=1).
#
# SYSTEM_PYTHON=1 makes no environment: python3 runs the package from src/ (for a machine whose
# image has torch, torchvision and transformers but no network); wheels in .whl/ are unpacked
# into /tmp/site first. The tests need these beside such an image: pytest-socket,
# pytest-asyncio, ImageHash and PyWavelets (pillow-heif is optional).
#
#   VENV         the environment's folder (default benchmarks/.cache/venv-gpu, ignored by git;
#                reused when there)
#   TORCH_INDEX  where CUDA builds of torch and torchvision come from
#                (default https://download.pytorch.org/whl/cu128)
#   OFFLINE=1    pip install --no-index --find-links .whl
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "no CUDA device: nvidia-smi finds no NVIDIA GPU on this host; run this on a GPU host" >&2
    exit 2
fi
nvidia-smi -L

VENV=${VENV:-benchmarks/.cache/venv-gpu}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cu128}
PIP_FROM=()
if [ "${OFFLINE:-0}" = 1 ]; then
    PIP_FROM=(--no-index --find-links .whl)
fi

if [ "${SYSTEM_PYTHON:-0}" = 1 ]; then
    if compgen -G ".whl/*.whl" >/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl
    fi
    export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
    PY=python3
elif [ ! -x "$VENV/bin/python" ]; then
    if python3 -c "import torch, torchvision.io; assert torch.cuda.is_available()" 2>/dev/null; then
        echo "using python3's CUDA torch and torchvision"
        python3 -m venv --system-site-packages "$VENV"
    else
        python3 -m venv "$VENV"
        if [ "${OFFLINE:-0}" = 1 ]; then
            "$VENV/bin/python" -m pip install -q "${PIP_FROM[@]}" torch torchvision
        else
            "$VENV/bin/python" -m pip install -q --index-url "$TORCH_INDEX" torch torchvision
        fi
    fi
    "$VENV/bin/python" -m pip install -q "${PIP_FROM[@]}" -e ".[gpu,dev]"
fi
PY=${PY:-$VENV/bin/python}

"$PY" - <<'EOF'
import torch, torchvision
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), torchvision {torchvision.__version__}, "
      f"{torch.cuda.get_device_name()}")
EOF

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False PYTHONUNBUFFERED=1
"$PY" -m pytest -q -p no:cacheprovider tests/encoding/test_gpu_jpeg.py
"$PY" benchmarks/gpu_check.py "$@"
