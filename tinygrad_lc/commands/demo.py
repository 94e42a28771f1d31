"""`tinygrad-lc demo`: placeholder that runs the engine example until the full demo lands."""

import argparse
import runpy
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    example = Path(__file__).resolve().parents[2] / "examples" / "01_linear_score.py"
    runpy.run_path(str(example), run_name="__main__")
    return 0
