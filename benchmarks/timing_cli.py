"""Command-line arguments shared by the timing benchmarks, and the torch set-up they ask for."""

import argparse
import os
from pathlib import Path

import torch


def timing_parser(description: str) -> argparse.ArgumentParser:
    """A parser with --rounds (interleaved timing rounds), --threads (torch threads, default the
    CPU count) and --out (results directory, default benchmarks/results)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    return parser


def set_up_torch(args: argparse.Namespace) -> None:
    """Use ``args.threads`` torch threads and seed torch's generator (inputs are random)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
