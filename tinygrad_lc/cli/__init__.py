"""The ``tinygrad-lc`` command line: one sub-command per module in ``tinygrad_lc/commands``.

The public face of ``tinygrad_lc.cli``; the code is in ``main.py``.
"""

from tinygrad_lc.cli.main import (  # noqa: F401  (re-exported)
    COMMANDS,
    Parser,
    build_parser,
    main,
)

__all__ = ['build_parser', 'main']
