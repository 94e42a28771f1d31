"""Progress bars on stderr (tqdm), for any layer: a download, a training run, a sweep.

The bar is drawn only when stderr is a terminal; without tqdm (an optional extra) the work goes
on without one. Nothing here imports the rest of the package, so the data loaders can use it.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int | None, desc: str, *, enabled: bool = True, **options: Any) -> Any:
    """A tqdm bar on stderr, or a silent stand-in when disabled or tqdm is missing.

    The bar is drawn only when stderr is a terminal (tqdm's ``disable=None``): redirected to
    a file or a CI log, its frames would be hundreds of lines of carriage returns.
    ``options`` go to tqdm (e.g. ``initial``, ``unit="B"``). Without tqdm (an optional
    extra) a one-line note on a terminal says so, and the work goes on without a bar.

    >>> bar = progress_bar(10, "steps", enabled=False)
    >>> bar.update(1); bar.set_postfix(loss="1.0"); bar.close()
    """
    if enabled:
        try:
            # tqdm is optional (the demo extra): without it there is no bar
            from tqdm import tqdm
        except ImportError:
            if sys.stderr.isatty():
                print("note: tqdm is not installed, so there is no progress bar "
                      "(pip install 'tinygrad_lc[demo]')", file=sys.stderr)
        else:
            return tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True,
                        disable=None, **options)
    return _NoBar()


class _NoBar:
    total: int | None = None

    def update(self, n: int = 1) -> None:
        pass

    def reset(self) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
