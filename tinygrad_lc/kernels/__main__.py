"""``python -m tinygrad_lc.kernels``: the machine, its BLAS and the lecture's choices."""

from tinygrad_lc.kernels.overview import report

print(report())
