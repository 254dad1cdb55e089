#!/bin/sh
# Run this checkout's `ownnet bench` on the ownnet of another source tree (an older commit, say), so
# that old and new code are measured by the same bench:
#
#   sh benchmarks/bench_tree.sh TREE PYTHON [ownnet bench options...]
#   sh benchmarks/bench_tree.sh /tmp/base /tmp/base/.venv/bin/python --nets canonical,big --epochs 10 \
#       --out benchmarks/results/base-canonical-big
#   sh benchmarks/bench_tree.sh . .venv/bin/python --nets canonical,big --epochs 10 --out ...  # this tree
#
# TREE's src/ownnet is copied into a temporary folder, this checkout's bench package is put into the
# copy as ownnet.apps.bench (the bench uses only ownnet's public API, which is the same before and
# after issue 16's reorganisation, plus ownnet.io.atomic_write), and the bench runs there with PYTHON
# (a venv with numpy, and torch, scikit-learn, threadpoolctl, numba for the full comparison). Nothing
# is written into TREE. The report's "Code measured" line names TREE and its commit.
set -eu
if [ $# -lt 2 ]; then
    sed -n '2,14p' "$0"
    exit 2
fi
tree=$(cd "$1" && pwd)
python=$2
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$tree" describe --always --dirty 2>/dev/null || echo "no git")
copy=$(mktemp -d -t ownnet-bench.XXXXXX)
trap 'rm -rf "$copy"' EXIT
trap 'exit 1' INT TERM
cp -r "$tree/src/ownnet" "$copy/ownnet"
mkdir -p "$copy/ownnet/apps"
[ -f "$copy/ownnet/apps/__init__.py" ] || : > "$copy/ownnet/apps/__init__.py"
rm -rf "$copy/ownnet/apps/bench" "$copy/ownnet/apps/bench.py"
cp -r "$here/src/ownnet/apps/bench" "$copy/ownnet/apps/bench"
PYTHONPATH="$copy" "$python" -m ownnet.apps.bench --note "ownnet of $tree at $commit" "$@"
