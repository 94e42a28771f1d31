"""The ``tinygrad-lc`` command line: one sub-command per module of ``tinygrad_lc/cli``."""

from __future__ import annotations

import argparse
import importlib
import sys

from tinygrad_lc import __version__
from tinygrad_lc.cli.options import Parser

# sub-command name -> module in tinygrad_lc.cli exposing `add_arguments(p)` and `run(args)`
COMMANDS = {
    "demo": "Run the lecture end to end and write out/report.html.",
    "train": "Train a linear classifier with SGD, or the two-layer net (--model mlp).",
    "graph": "Render the lecture's full loss as a Graphviz diagram.",
    "gradcheck": "Check the lecture losses' gradients numerically.",
    "sweep": "Choose lr and reg on the validation set (local cores or a Dask cluster).",
    "playground": "Serve the lecture's interactive linear-classifier demo in the browser.",
    "kernels": "Show the machine, its BLAS and the product forms chosen for the lecture's shapes.",
}


def build_parser() -> argparse.ArgumentParser:
    """The program's parser; every sub-command's is a ``Parser`` too (no abbreviations,
    unknown options answered with a did-you-mean)."""
    parser = Parser(
        prog="tinygrad-lc",
        description="Linear classifiers, SVM and softmax losses as computation graphs.",
    )
    parser.add_argument("--version", action="version", version=f"tinygrad-lc {__version__}")
    # not required=True: argparse would then say "COMMAND is required" before naming an
    # unknown option such as --verson; main() asks for the command after the options are known
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parsers = {}
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"tinygrad_lc.cli.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
        parsers[name] = p
    # an option given to a sub-command that lacks it names the sub-commands that have it
    options = {name: {s for a in p._actions for s in a.option_strings
                      if s.startswith("--") and a.help != argparse.SUPPRESS}
               for name, p in parsers.items()}
    for name, p in parsers.items():
        p.elsewhere = {o: [other for other in COMMANDS if o in options[other]]
                       for others in options.values() for o in others
                       if o not in options[name]}
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tinygrad-lc`` and ``python -m tinygrad_lc``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error(f"the following arguments are required: COMMAND (one of "
                     f"{', '.join(COMMANDS)})")
    args._argv = argv  # the words typed, for commands that print how to run them again
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:  # train says more (its step and checkpoint) and catches it itself
        print(f"tinygrad-lc {args.command}: interrupted before it finished", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
