"""What only the GPU needs: cuBLAS called directly (``cublas``), fused element-wise kernels
(``kernels``) and the capture of a whole training step as a CUDA graph (``graph``).

Nothing here is imported unless an array lives on the GPU; everything needs CuPy.
"""
