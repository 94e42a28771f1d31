"""`tinygrad-lc kernels`: the machine, its BLAS and the forms chosen for the lecture's products.

The same table as ``python -m tinygrad_lc.kernels``, with the batch sizes, dtypes, layer
widths and BLAS threads as options.
"""

from __future__ import annotations

import argparse

from tinygrad_lc.kernels.overview import report

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Print the CPU, NumPy's BLAS build and its threads, then the form chosen for each of "
        "the lecture's matrix products (X @ W, X^T G, G W2^T) with the timings behind it.")
    p.add_argument("--n", type=int, nargs="+", default=[200, 1000], metavar="N",
                   help="batch sizes (default: 200 1000)")
    p.add_argument("--dtype", nargs="+", choices=["float32", "float64"],
                   default=["float32", "float64"], help="dtypes (default: both)")
    p.add_argument("--hidden", type=int, nargs="+", default=[10, 100], metavar="H",
                   help="widths of the weight matrix (3073, H): 10 is the linear classifier, "
                        "100 the two-layer net's hidden layer (default: 10 100)")
    p.add_argument("--threads", type=int, default=0,
                   help="BLAS threads while timing (default 0: as the process has them)")


def run(args: argparse.Namespace) -> int:
    for name in ("n", "hidden"):
        bad = [v for v in getattr(args, name) if v < 2]
        if bad:
            raise SystemExit(f"tinygrad-lc kernels: --{name} expects numbers of at least 2, "
                             f"got {bad[0]}")
    if args.threads < 0:
        raise SystemExit(f"tinygrad-lc kernels: --threads expects 0 or more, got {args.threads}")
    kw = {"ns": args.n, "dtypes": args.dtype, "hidden": args.hidden}
    if args.threads:
        from threadpoolctl import threadpool_limits  # lazy: only when --threads is given

        with threadpool_limits(limits=args.threads, user_api="blas"):
            print(report(**kw))
    else:
        print(report(**kw))
    return 0
