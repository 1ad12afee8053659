"""Time every chapter: execute each notebook in a fresh kernel and print JSON.

    python benchmarks/time_notebooks.py                     # all chapters, full mode, empty cache
    python benchmarks/time_notebooks.py notebooks/07_*.ipynb --fast
    python benchmarks/time_notebooks.py --keep-cache        # reuse AEVAE_CACHE's trained models

Each notebook runs as the book build runs it: nbclient, the ``python3`` kernel of this
environment, working directory ``notebooks/``. By default the chapters share one new, empty
model cache, in book order, so the total is what a first build (or CI) costs: a chapter that
trains a model pays for it, and a later chapter that reuses it does not.

Output: one JSON object with ``notebooks`` (per notebook: ``seconds``, ``ok``, the slowest
cells), ``total_seconds``, ``budget_seconds`` (480, the book's limit), ``within_budget``,
``mode``, ``cache`` and ``machine`` (CPU count, load average at the start and the end: a
busy machine makes every number an upper bound). Exit status 1 if a notebook failed.

Used in: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 8 * 60


def time_notebook(path: Path, timeout: int) -> dict:
    """Execute one notebook; return its wall time, success and its three slowest cells."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    cell_times: list[tuple[float, int]] = []
    original = client.async_execute_cell

    async def timed(cell, cell_index, *args, **kwargs):
        start = time.perf_counter()
        try:
            return await original(cell, cell_index, *args, **kwargs)
        finally:
            cell_times.append((time.perf_counter() - start, cell_index))

    client.async_execute_cell = timed
    start, error = time.perf_counter(), None
    try:
        client.execute()
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1][:300]
    except Exception as err:  # a dead kernel, a timeout: report, go on with the next chapter
        error = f"{type(err).__name__}: {err}"[:300]
    seconds = time.perf_counter() - start
    slowest = sorted(cell_times, reverse=True)[:3]
    return {
        "seconds": round(seconds, 1),
        "ok": error is None,
        **({"error": error} if error else {}),
        "slowest_cells": [{"index": i, "seconds": round(s, 1)} for s, i in slowest],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--fast", action="store_true", help="AEVAE_FAST=1 (quick mode)")
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="use AEVAE_CACHE as it is instead of a new empty cache",
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")

    os.environ.pop("MPLBACKEND", None)  # the inline backend, as in `make book`
    os.environ["AEVAE_FAST"] = "1" if args.fast else "0"
    if "AEVAE_DATA" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
        os.environ["AEVAE_DATA"] = str(REPO.parent / "shared" / "data")
    tmp = None
    if not args.keep_cache:
        tmp = tempfile.TemporaryDirectory(prefix="aevae-time-")
        os.environ["AEVAE_CACHE"] = tmp.name
    load_start = _load()
    results = {}
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        results[path.name] = time_notebook(path.resolve(), args.timeout)
        print(f"  {results[path.name]['seconds']} s", file=sys.stderr, flush=True)
    total = sum(r["seconds"] for r in results.values())
    report = {
        "notebooks": results,
        "total_seconds": round(total, 1),
        "budget_seconds": BUDGET_SECONDS,
        "within_budget": total <= BUDGET_SECONDS,
        "all_ok": all(r["ok"] for r in results.values()),
        "mode": "fast" if args.fast else "full",
        "cache": "kept" if args.keep_cache else "empty at start",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_start": load_start,
            "load_average_end": _load(),
        },
    }
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(report, indent=1))
    return 0 if report["all_ok"] else 1


def _load():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
