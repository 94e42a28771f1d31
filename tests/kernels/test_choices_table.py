"""What `python -m tinygrad_lc.kernels` and `tinygrad-lc kernels` print."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lc import cli
from tinygrad_lc.kernels import blas_info, products


def test_the_command_prints_the_machine_and_a_row_per_product(capsys):
    assert cli.main(["kernels", "--n", "40", "--hidden", "10", "30", "--dtype", "float32",
                     "--threads", "1"]) == 0
    out = capsys.readouterr().out
    for line in ("CPU: ", "NumPy: " + np.__version__, "BLAS: ", "BLAS threads: 1", "mode: "):
        assert line in out, out
    rows = [line.split("  ")[0] for line in out.splitlines()[-5:]]
    assert rows == ["X @ W", "X^T G", "X @ W", "X^T G", "G W2^T"], out
    assert "(40, 3073) @ (3073, 30)" in out and "(3073, 40) @ (40, 30)" in out
    if blas_info():
        assert blas_info()["internal_api"] in out
    decided = {d.key[:2] for d in products.PRODUCT.decisions()}
    assert ((40, 3073), (3073, 10)) in decided  # the engine's own choice, made by the table


@pytest.mark.parametrize("argv, message", [
    (["--n", "1"], "--n expects numbers of at least 2, got 1"),
    (["--threads", "-1"], "--threads expects 0 or more, got -1"),
])
def test_the_command_refuses_bad_numbers(argv, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["kernels", *argv])
