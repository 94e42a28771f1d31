"""Kernel choices: the engine's matrix products by the form timed fastest on this machine.

Equivalent forms of a product (``x @ y``, or ``(y.T @ x.T).T``) run other BLAS kernels, and
which is faster depends on the CPU, the BLAS build and the shapes; so does whether a sum of
an F-ordered and a C-ordered gradient is written over the first or into a new array. The
first time a key (shapes, dtypes, memory orders, BLAS threads) is seen, the forms are timed
on the call's own operands (a few ms) and the fastest is kept for the process. The eager
forward and backward, ``create_graph`` and ``tg.compile`` all take their products from here,
so they make the same choices and compiled results stay bit-identical to eager ones.

``set_mode("fixed")`` or ``TINYGRAD_LC_KERNELS=fixed`` (read at import) takes the plain forms
(``a @ b``) everywhere, the same on every machine. The modes' results differ only by the
rounding order of the forms. ``python -m tinygrad_lc.kernels`` prints the machine and the
choices for the lecture's shapes (docs/kernels.md).

>>> import numpy as np
>>> from tinygrad_lc import kernels
>>> kernels.get_mode() in ("auto", "fixed")
True
>>> x, y = np.ones((300, 400)), np.ones((400, 20))
>>> np.allclose(kernels.matmul(x, y), x @ y)
True
"""

from tinygrad_lc.kernels.choose import ENV, MODES, Choice, Decision, Form, get_mode, set_mode
from tinygrad_lc.kernels.machine import blas_info, blas_threads, cpu_model
from tinygrad_lc.kernels.overview import report
from tinygrad_lc.kernels.products import PRODUCT, matmul, matmul_into, product_form, product_key
from tinygrad_lc.kernels.sums import MIXED_ADD, add_into_f_ordered

__all__ = ["set_mode", "get_mode", "MODES", "ENV", "matmul", "matmul_into", "product_form",
           "product_key", "PRODUCT", "Choice", "Form", "Decision", "blas_info", "blas_threads",
           "cpu_model", "report", "MIXED_ADD", "add_into_f_ordered"]
