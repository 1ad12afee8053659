"""What the training benchmarks share: the machine they ran on, and their command line
(``--fast``, MNIST from ../shared/data when ``AEVAE_DATA`` is not set, JSON on stdout)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine() -> dict:
    """CPU count, torch's thread count and the platform: the conditions of a timing."""
    import torch

    return {
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def main(run: Callable[[bool], dict], doc: str, fast_help: str, argv=None) -> int:
    """Parse ``--fast``, point the library at the shared MNIST if need be, print ``run``'s JSON."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help=fast_help)
    args = parser.parse_args(argv)
    if "AEVAE_DATA" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
        os.environ["AEVAE_DATA"] = str(REPO.parent / "shared" / "data")
    print(json.dumps(run(args.fast), indent=1))
    return 0
