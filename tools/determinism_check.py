"""Run chapters twice on CPU in fast mode and check that they print the same things.

    python tools/determinism_check.py                      # chapters 01 and 04 (or the first two)
    python tools/determinism_check.py notebooks/07_*.ipynb # these chapters
    python tools/determinism_check.py --all                # every chapter

Each run executes the notebook in a fresh kernel (nbclient), from notebooks/ as the book does,
with ``AEVAE_FAST=1`` and its own empty ``AEVAE_CACHE``, so every model is trained again
rather than loaded from the first run. The text of every output is compared: stdout and stderr
streams and the text/plain of results and displays; lines that report a time, progress bars and
memory addresses are left out, and the run's own cache folder is replaced by a placeholder.

MNIST comes from ``AEVAE_DATA``, else ../shared/data, else the user cache (the library's
look-up, which downloads and verifies the files once, before the runs). Exit status 0 when
every chapter printed the same text twice, 1 with a diff otherwise, 2 on a usage error.
Used in CI through tests/test_determinism.py (marked slow).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
DEFAULT_CHAPTERS = ("01", "04")

_PROGRESS = re.compile(r"\d+%\||it/s\]|s/it\]|[\u2580-\u259f]")  # tqdm bars and block glyphs
_TIMING = re.compile(
    r"(?i)\b(wall time|cpu times|elapsed|took|runtime|seconds?|secs?|minutes?)\b"
    r"|\b\d+(\.\d+)?\s?(ms|s|min|h)\b"
)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def default_notebooks() -> list[Path]:
    """Chapters 01 and 04 when they exist, else the first two notebooks."""
    every = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    chosen = [nb for nb in every if nb.name[:2] in DEFAULT_CHAPTERS]
    return chosen if len(chosen) == len(DEFAULT_CHAPTERS) else every[:2]


def mnist_folder() -> str | None:
    """A folder holding MNIST for every run to share (the runs' caches are fresh and empty)."""
    if os.environ.get("AEVAE_DATA"):
        return os.environ["AEVAE_DATA"]
    shared = REPO.parent / "shared" / "data"
    if (shared / "mnist").is_dir():
        return str(shared)
    sys.path.insert(0, str(REPO))
    from aevae_lib.data import DataError, load_mnist
    from aevae_lib.runtime import cache_dir

    try:  # found in, or downloaded (and verified) into, the user cache
        load_mnist("train")
        load_mnist("test")
    except DataError as err:
        print(f"determinism: MNIST not available ({err}); chapters that need it will fail")
        return None
    return str(cache_dir() / "data")


def normalise(text: str, cache: str) -> list[str]:
    """The comparable lines of one output's text."""
    lines = []
    for line in text.replace(cache, "<AEVAE_CACHE>").splitlines():
        line = line.rsplit("\r", 1)[-1].rstrip()  # what a terminal shows after carriage returns
        if not line or _PROGRESS.search(line) or _TIMING.search(line):
            continue
        lines.append(_ADDRESS.sub("0x...", line))
    return lines


def printed_lines(nb, cache: str) -> list[str]:
    """``[cell N] line`` for every comparable line of every code cell's outputs."""
    lines = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                text = output.text
            elif output.output_type in {"execute_result", "display_data"}:
                text = output.get("data", {}).get("text/plain", "")
            elif output.output_type == "error":
                text = f"{output.ename}: {output.evalue}"
            else:
                continue
            lines += [f"[cell {index}] {line}" for line in normalise(text, cache)]
    return lines


def run_once(path: Path, timeout: int) -> tuple[list[str], float]:
    """Execute ``path`` in a fresh kernel with a fresh model cache; return its lines and seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="aevae-determinism-") as cache:
        saved = {k: os.environ.get(k) for k in ("AEVAE_FAST", "AEVAE_CACHE", "MPLBACKEND")}
        os.environ.update(AEVAE_FAST="1", AEVAE_CACHE=cache)
        os.environ.pop("MPLBACKEND", None)  # as the Makefile: the kernel's inline backend
        start = time.perf_counter()
        try:
            NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
            ).execute()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return printed_lines(nb, cache), time.perf_counter() - start


def check(path: Path, runs: int, timeout: int, show: bool) -> bool:
    from nbclient.exceptions import CellExecutionError

    results = []
    for run in range(runs):
        try:
            lines, seconds = run_once(path, timeout)
        except CellExecutionError as err:  # the chapter itself fails: say where, briefly
            print(f"{path.name}: run {run + 1} FAILED to execute: {err.ename}: {err.evalue[:500]}")
            return False
        print(f"{path.name}: run {run + 1} printed {len(lines)} comparable lines ({seconds:.0f} s)")
        results.append(lines)
    if show:
        print("\n".join(results[0]))
    if not results[0]:
        print(f"{path.name}: warning: printed nothing to compare (a stub chapter?)")
    same = True
    for run, lines in enumerate(results[1:], start=2):
        if lines != results[0]:
            same = False
            diff = difflib.unified_diff(
                results[0], lines, f"{path.name} run 1", f"{path.name} run {run}", lineterm=""
            )
            print("\n".join(diff))
    print(f"{path.name}: {'identical' if same else 'DIFFERENT'} over {runs} runs")
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: chapters 01 and 04")
    parser.add_argument("--all", action="store_true", help="every notebook in notebooks/")
    parser.add_argument("--runs", type=int, default=2, help="runs per notebook (default 2)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    parser.add_argument("--show", action="store_true", help="print the compared lines")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error(f"--runs must be at least 2, got {args.runs}")
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if args.all else args.notebooks
    paths = paths or default_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        parser.error(f"no such notebook(s): {missing or 'none found in notebooks/'}")
    data_folder = mnist_folder()
    if data_folder:
        os.environ["AEVAE_DATA"] = data_folder
    results = [check(path.resolve(), args.runs, args.timeout, args.show) for path in paths]
    print(f"determinism: {sum(results)} of {len(results)} notebook(s) identical")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
