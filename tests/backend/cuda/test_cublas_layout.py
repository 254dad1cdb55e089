"""The row-major -> column-major mapping of ``ownnet.backend.cuda.cublas``, checked on the CPU: a NumPy
stand-in for cuBLAS's column-major GEMM, given exactly the arguments ownnet would pass, must
produce ``a @ b`` for every layout the layers use (plain, transposed views, row slices)."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from ownnet.backend.cuda.cublas import OP_N, OP_T, gemm_arguments, operand_layout


def column_major(array, rows, cols, ld):
    """The column-major ``(rows, cols)`` matrix with leading dimension ``ld`` at ``array``'s data."""
    item = array.itemsize
    return as_strided(array, shape=(rows, cols), strides=(item, ld * item), writeable=True)


def reference_gemm(op_b, op_a, n, m, k, b, ldb, a, lda, c, ldc, accumulate=False):
    """cuBLAS's ``C = op(B') op(A') (+ C)`` on column-major views of the operands' memory."""
    b_cm = column_major(b, n, k, ldb) if op_b == OP_N else column_major(b, k, n, ldb).T
    a_cm = column_major(a, k, m, lda) if op_a == OP_N else column_major(a, m, k, lda).T
    c_cm = column_major(c, n, m, ldc)
    c_cm[...] = b_cm @ a_cm + (c_cm if accumulate else 0)


def layouts(rng, rows, cols):
    """The same logical ``(rows, cols)`` matrix in the layouts ownnet hands to matmul."""
    values = rng.standard_normal((rows, cols)).astype(np.float32)
    transposed = np.ascontiguousarray(values.T).T  # x.T of a C-contiguous array
    padded = np.zeros((rows, cols + 3), dtype=np.float32)
    padded[:, :cols] = values
    return {"C-contiguous": values, "transposed view": transposed, "row stride > cols": padded[:, :cols]}


@pytest.mark.parametrize("m,k,n", [(4, 5, 3), (1, 7, 2), (6, 1, 4), (3, 4, 1), (128, 784, 512)])
@pytest.mark.parametrize("accumulate", [False, True])
def test_arguments_reproduce_the_row_major_product(m, k, n, accumulate):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    for a_name, a in layouts(rng, m, k).items():
        for b_name, b in layouts(rng, k, n).items():
            c = rng.standard_normal((m, n)).astype(np.float32)
            expected = a @ b + (c if accumulate else 0)
            op_b, op_a, n_, m_, k_, ldb, lda, ldc = gemm_arguments(a, b, c)
            reference_gemm(op_b, op_a, n_, m_, k_, b, ldb, a, lda, c, ldc, accumulate)
            np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-4, err_msg=f"{a_name} @ {b_name}")


def test_layouts_are_read_without_copies():
    x = np.zeros((8, 3), dtype=np.float32)
    assert operand_layout(x) == (OP_N, 3)
    assert operand_layout(x.T) == (OP_T, 3)  # the transposed view: the original memory, op T
    assert operand_layout(np.zeros((8, 10), dtype=np.float32)[:, :4]) == (OP_N, 10)
    assert operand_layout(np.zeros((8, 10), dtype=np.float32)[:, ::2]) is None  # must be copied


def test_output_must_have_contiguous_rows():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="contiguous rows"):
        gemm_arguments(a, b, np.ones((4, 2), np.float32).T)
