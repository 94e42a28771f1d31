"""What the sub-commands share: the parser, argument types and the options of one meaning.

- ``Parser``: argparse without abbreviations, answering an unknown option with the
  sub-command's usage and a did-you-mean;
- argument types: a bad value becomes argparse's usage error, so argparse prints
  ``tinygrad-lc COMMAND: error: argument --seed: ...`` and exits with status 2, instead of
  NumPy failing later with a bare message or a traceback;
- ``add_regularizer_options``: ``--regularizer``, ``--reg`` and ``--beta``, defined once for
  ``train``, ``gradcheck`` and ``graph``.
"""

from __future__ import annotations

import argparse
import difflib
import math
from typing import Any

from tinygrad_lc.regularizers import REGULARIZERS


def non_negative_int(text: str) -> int:
    """An integer >= 0, e.g. for ``--seed`` (NumPy's generators refuse negative seeds).

    >>> non_negative_int("3")
    3
    >>> non_negative_int("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 0, got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0, e.g. for a regularization strength (NaN or inf is refused).

    >>> non_negative_float("0.1")
    0.1
    >>> non_negative_float("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number >= 0, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def strength(text: str) -> float:
    """``--reg``'s value: a finite number >= 0; a regularizer's name says where it goes.

    >>> strength("2.5e4")
    25000.0
    >>> strength("l1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: is the strength, a number >= 0; the regularizer's name goes \
to --regularizer (--regularizer l1), got 'l1'
    """
    if text in REGULARIZERS:
        raise argparse.ArgumentTypeError(
            f"is the strength, a number >= 0; the regularizer's name goes to --regularizer "
            f"(--regularizer {text}), got {text!r}")
    return non_negative_float(text)


# ---------------------------------------------------------------------- shared options
# options that had another name in some sub-command: the did-you-mean names the new one
RENAMED = {"--reg-strength": "--reg"}
ELASTIC_BETA = 1.0  # elastic_net's weight of W**2 when --beta is not given (penalty's default)


def add_regularizer_options(p: argparse.ArgumentParser, reg_default: float | None,
                            reg_help: str) -> None:
    """``--regularizer NAME``, ``--reg STRENGTH`` and ``--beta`` with one meaning everywhere.

    ``reg_default`` is the command's strength when ``--reg`` is not given (None: the
    command picks it, as train does per data set); ``reg_help`` says what that is.

    >>> p = Parser(prog="x")
    >>> add_regularizer_options(p, 0.1, "default: 0.1")
    >>> args = p.parse_args(["--regularizer", "elastic_net"])
    >>> args.regularizer, args.reg, args.beta
    ('elastic_net', 0.1, 1.0)
    """
    p.add_argument("--regularizer", choices=REGULARIZERS, default="l2",
                   help="R(W) in loss = data loss + reg * R(W) (default: l2)")
    p.add_argument("--reg", type=strength, default=reg_default, metavar="STRENGTH",
                   help=f"regularization strength, the lambda in front of R(W) ({reg_help})")
    p.add_argument("--beta", type=non_negative_float, default=ELASTIC_BETA,
                   help="elastic_net only: R(W) = sum(beta * W**2 + |W|) "
                        f"(default: {ELASTIC_BETA:g})")


# ---------------------------------------------------------------------- the parser
class Parser(argparse.ArgumentParser):
    """argparse's parser with two habits every sub-command shares.

    - ``allow_abbrev=False``: ``--data`` is not taken for ``--dataset``, so an option added
      later can never change what an existing script's words mean.
    - An unknown option is refused by the (sub-)command that received it, with that
      command's usage and the nearest option it knows (``difflib``): exit status 2.

    >>> import contextlib, io
    >>> p = Parser(prog="tinygrad-lc train")
    >>> _ = p.add_argument("--dataset")
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):
    ...     p.parse_args(["--datset", "digits"])
    >>> print(err.getvalue().splitlines()[-1])
    tinygrad-lc train: error: unrecognized arguments: --datset digits (did you mean --dataset?)
    """

    # how alike an unknown option's name and a known one must be (difflib's ratio, on the
    # names without their dashes) to be offered: --datset -> --dataset (0.92) and --sead ->
    # --seed (0.75) are; --quiet -> --beta (0.44) is not
    GUESS_CUTOFF = 0.75

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # option -> the other sub-commands that have it (``cli.build_parser`` fills it in)
        self.elsewhere: dict[str, list[str]] = {}

    def parse_known_args(  # pyright: ignore[reportIncompatibleMethodOverride]  (stub overloads)
            self, args: Any = None, namespace: Any = None) -> Any:
        # a sub-command receives every word after its name, so what it does not know is
        # unknown, and it says so itself (argparse would pass it up to the top-level usage)
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._did_you_mean(extras)}")
        return namespace, extras

    def _did_you_mean(self, extras: list[str]) -> str:
        known = {s[2:]: s for action in self._actions for s in action.option_strings
                 if s.startswith("--")}
        guesses: list[str] = []
        homes: list[str] = []
        for word in extras:
            if not word.startswith("-"):
                continue
            name = word.split("=", 1)[0]
            if name in self.elsewhere:  # right option, wrong sub-command
                where = self.elsewhere[name]
                commands = ", ".join(where[:-1]) + " and " + where[-1] if len(where) > 1 \
                    else where[0]
                homes.append(f"{name} is an option of {commands} only")
                continue
            match = [RENAMED[name]] if name in RENAMED else [known[m] for m in
                difflib.get_close_matches(name.lstrip("-"), list(known), n=1,
                                          cutoff=self.GUESS_CUTOFF)]
            guesses += [m for m in match if m not in guesses]
        said = ([f"did you mean {' or '.join(guesses)}?"] if guesses else []) + homes
        return f" ({'; '.join(said)})" if said else ""
