"""Matrix products on the GPU through cuBLAS, called directly (ctypes), so that a CUDA graph can
capture them: CuPy refuses any cuBLAS call while a stream is being captured, cuBLAS itself does not.

cuBLAS is column-major and ownnet's arrays are row-major. A row-major ``(r, c)`` array with row
stride ``ld`` is, read column-major, its transpose ``(c, r)`` with leading dimension ``ld``. So
``C = A @ B`` is computed as ``C^T = B^T @ A^T``: cuBLAS gets B first, then A, and writes C^T, which is
C in row-major order. A transposed view (``x.T``) is passed as the original array with the
"transpose" flag, never copied.
"""

import ctypes
import ctypes.util
import threading

from ownnet.backend.device import check_device

OP_N, OP_T = 0, 1
_WORKSPACE_BYTES = 32 << 20


def operand_layout(a):
    """``(op, ld)`` with which cuBLAS reads the row-major 2-D array ``a`` as ``a^T`` (column-major),
    or None if ``a`` has no such layout (then it must be copied first).

    Rows laid out contiguously (``a.strides[1] == itemsize``): op N, ld = the row stride. Columns
    laid out contiguously (a transposed view): op T, ld = the column stride.
    """
    rows, cols = a.shape
    item = a.itemsize
    row_stride, col_stride = a.strides
    if (col_stride == item or cols == 1) and (row_stride % item == 0) and row_stride // item >= max(1, cols):
        return OP_N, (row_stride // item if rows > 1 else max(1, cols))
    if (row_stride == item or rows == 1) and (col_stride % item == 0) and col_stride // item >= max(1, rows):
        return OP_T, (col_stride // item if cols > 1 else max(1, rows))
    return None


def gemm_arguments(a, b, c):
    """The arguments of the column-major ``gemm(opB, opA, n, m, k, B, ldb, A, lda, C, ldc)`` that
    writes the row-major ``c = a @ b``: ``(op_b, op_a, n, m, k, ldb, lda, ldc)``.

    ``a`` and ``b`` must have a layout (``operand_layout``) and ``c`` contiguous rows.
    """
    m, k = a.shape
    n = b.shape[1]
    op_a, lda = operand_layout(a)
    op_b, ldb = operand_layout(b)
    op_c, ldc = operand_layout(c)
    if op_c != OP_N:
        raise ValueError("gemm: the output must have contiguous rows")
    return op_b, op_a, n, m, k, ldb, lda, ldc


class _Cublas:
    """The libcublas that CuPy loaded, one handle with a fixed workspace, and the stream it is set to."""

    def __init__(self):
        import cupy

        cupy.ones((2, 2), dtype=cupy.float32) @ cupy.ones((2, 2), dtype=cupy.float32)  # loads libcublas
        self.lib = ctypes.CDLL(_loaded_library_path("libcublas.so"))
        self.handle = ctypes.c_void_p()
        self._check(self.lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        self.workspace = cupy.empty(_WORKSPACE_BYTES, dtype=cupy.uint8)  # fixed: graphs may capture it
        self._check(self.lib.cublasSetWorkspace_v2(self.handle, ctypes.c_void_p(self.workspace.data.ptr),
                                                   ctypes.c_size_t(_WORKSPACE_BYTES)), "cublasSetWorkspace")
        self.stream = None
        self.scalars = {}
        for name, ctype in (("float32", ctypes.c_float), ("float64", ctypes.c_double)):
            self.scalars[name] = (ctype(1.0), ctype(0.0))
        self.functions = {"float32": self.lib.cublasSgemm_v2, "float64": self.lib.cublasDgemm_v2}
        self.cupy = cupy

    @staticmethod
    def _check(status, what):
        if status != 0:
            raise RuntimeError(f"{what} failed with cuBLAS status {status}")

    def set_stream(self, stream_ptr):
        if stream_ptr != self.stream:
            self._check(self.lib.cublasSetStream_v2(self.handle, ctypes.c_void_p(stream_ptr)),
                        "cublasSetStream")
            self.stream = stream_ptr

    def gemm(self, a, b, c, accumulate):
        op_b, op_a, n, m, k, ldb, lda, ldc = gemm_arguments(a, b, c)
        one, zero = self.scalars[c.dtype.name]
        self.set_stream(self.cupy.cuda.get_current_stream().ptr)
        status = self.functions[c.dtype.name](
            self.handle, op_b, op_a, n, m, k, ctypes.byref(one), ctypes.c_void_p(b.data.ptr), ldb,
            ctypes.c_void_p(a.data.ptr), lda, ctypes.byref(one if accumulate else zero),
            ctypes.c_void_p(c.data.ptr), ldc)
        self._check(status, "cublasGemm")


def _loaded_library_path(prefix):
    """The path of the shared library ``prefix*`` that this process has loaded (from /proc/self/maps)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            name = path.rsplit("/", 1)[-1]
            if name.startswith(prefix + ".") or name == prefix:
                return path
    found = ctypes.util.find_library("cublas")
    if found is None:
        raise RuntimeError("cuBLAS: could not find the libcublas that CuPy uses")
    return found


_ones = {}


def ones_row(n, dtype):
    """A cached ``(1, n)`` GPU array of ones (for column sums as matrix products)."""
    import cupy

    key = (n, dtype.name if hasattr(dtype, "name") else str(dtype), cupy.cuda.Device().id)
    if key not in _ones:
        _ones[key] = cupy.ones((1, n), dtype=dtype)
    return _ones[key]


_lock = threading.Lock()
_instance = None


def _cublas():
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = _Cublas()
    return _instance


def gemm(a, b, out=None, accumulate=False):
    """``a @ b`` (2-D CuPy arrays of one float dtype), written into ``out`` (new if None), or added to
    ``out`` with ``accumulate=True``. Other shapes and dtypes fall back to ``cupy.matmul``."""
    import cupy

    check_device(a, "gpu", "matmul: a")
    check_device(b, "gpu", "matmul: b")
    if (a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype.name not in ("float32", "float64")
            or a.shape[1] != b.shape[0] or min(a.shape[0], b.shape[1], a.shape[1]) == 0):
        if accumulate:
            out += cupy.matmul(a, b)
            return out
        return cupy.matmul(a, b, out=out)
    if operand_layout(a) is None:
        a = cupy.ascontiguousarray(a)
    if operand_layout(b) is None:
        b = cupy.ascontiguousarray(b)
    if out is None:
        out = cupy.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    elif out.shape != (a.shape[0], b.shape[1]) or out.dtype != a.dtype or not out.flags.c_contiguous:
        raise ValueError(f"matmul: out must be a C-contiguous {a.dtype} array of shape "
                         f"{(a.shape[0], b.shape[1])}, got {out.dtype} {out.shape}")
    _cublas().gemm(a, b, out, accumulate)
    return out
