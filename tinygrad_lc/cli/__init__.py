"""The ``tinygrad-lc`` command line: one sub-command per module of ``tinygrad_lc/cli``.

The public face of ``tinygrad_lc.cli``; the code is in ``program.py``.
"""

from tinygrad_lc.cli.program import COMMANDS, build_parser, main

__all__ = [
    "build_parser", "main", "COMMANDS"
]
