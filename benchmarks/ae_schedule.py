"""Learning-rate schedules for chapter 01's autoencoder: test error per epoch, printed as JSON.

    python benchmarks/ae_schedule.py            # three runs, about 2 minutes on 2 CPU cores
    python benchmarks/ae_schedule.py --fast     # 1,000 images, 2-3 epochs: checks the script

Trains the 30-dimensional autoencoder of ``configs.AEConfig()`` from the same initial weights
with three recipes and records the test squared error per image after every epoch:

- ``book``: the book's settings, Adam at 3e-3 for 4 epochs, then a linear decay to 0 over the
  fifth (``schedule="stable-decay"``, eq. ch01-schedule);
- ``constant``: the settings the book used before, a constant 2e-3 for 8 epochs;
- ``cosine``: 3e-3 with a cosine decay over 5 epochs.

With a constant rate, training for k epochs is the first k epochs of the 8-epoch run (same
seed, same minibatches), so one run gives the constant-rate error at every budget up to 8.
``constant_epochs_to_match_book`` is the fewest epochs after which the constant rate is at
least as good as the book's recipe after its last epoch (null: not within 8): chapter 01's
prose quotes it, and tests/test_benchmark_results.py checks that the saved JSON and the
prose agree.

Used in: benchmarks/README.md, notebooks/01_autoencoder.ipynb.
"""

from __future__ import annotations

import sys

import _cli
from _cli import machine


def recipes(fast: bool) -> dict[str, dict]:
    """The three training recipes: overrides of ``configs.AEConfig()``."""
    return {
        "book": {"epochs": 3 if fast else 5},
        "constant": {"epochs": 2 if fast else 8, "lr": 2e-3, "schedule": "constant"},
        "cosine": {"epochs": 3 if fast else 5, "lr": 3e-3, "schedule": "cosine"},
    }


def run(fast: bool) -> dict:

    from aevae_lib import zoo
    from aevae_lib.configs import AEConfig
    from aevae_lib.runtime import seed_everything

    seed_everything(0)
    n_train = 1_000 if fast else None
    runs = {}
    for name, overrides in recipes(fast).items():
        print(f"training {name} {overrides} ...", file=sys.stderr, flush=True)
        _, history = zoo.trained_ae(
            use_cache=False, progress=False, n_train=n_train, device="cpu", **overrides
        )
        runs[name] = {
            "settings": {"lr": AEConfig().lr, "schedule": AEConfig().schedule, **overrides},
            "test_sse_per_epoch": [round(v, 3) for v in history["val_loss"]],
            "train_seconds": round(sum(history["seconds"]), 1),
        }
    target = runs["book"]["test_sse_per_epoch"][-1]
    constant = runs["constant"]["test_sse_per_epoch"]
    needed = next((k for k, sse in enumerate(constant, start=1) if sse <= target), None)
    return {
        "runs": runs,
        "constant_epochs_to_match_book": needed,
        "mode": "fast" if fast else "full",
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    return _cli.main(run, __doc__, "1,000 images, 2-3 epochs", argv)


if __name__ == "__main__":
    sys.exit(main())
