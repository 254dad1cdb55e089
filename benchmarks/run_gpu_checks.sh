#!/bin/sh
# Every GPU check in one go, on a machine with an NVIDIA GPU, CuPy and PyTorch (nothing is installed):
# the GPU tests (tests/test_gpu.py, with the CPU-testable backend tests), then benchmarks/gpu.py.
#   sh benchmarks/run_gpu_checks.sh [OUT_DIR]      (OWNNET_DATA: a folder with the MNIST IDX files)
out=${1:-benchmarks/results}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import cupy, numpy, torch; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"
timeout 300 python3 -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py tests/test_backend.py tests/cuda \
    2>&1 | tee "$out/gpu-tests.log" | tail -40
timeout 240 python3 benchmarks/gpu.py --out "$out" 2>&1 | tail -25
