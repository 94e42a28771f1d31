"""`tinygrad-lc gradcheck` (placeholder until its issue lands)."""

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("tinygrad-lc gradcheck: not implemented yet")
    return 1
