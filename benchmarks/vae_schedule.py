"""Learning-rate schedules for chapter 04's VAE: test -ELBO per epoch, printed as JSON.

    python benchmarks/vae_schedule.py            # two runs of 25 epochs, a few minutes on 2 CPUs
    python benchmarks/vae_schedule.py --fast     # 1,000 images, 3 epochs: checks the script

Trains the 784-400-20 VAE of ``configs.VAEConfig()`` from the same initial weights, on the same
minibatches and binarizations, with two learning-rate schedules, and records the negative ELBO
on the fixed binarization of the 10,000 test images after every epoch:

- ``cosine``: the book's settings, Adam at 3e-3 decayed to 0 along a cosine over the 25 epochs
  (``schedule="cosine"``, what ``zoo.trained_vae`` uses);
- ``stable-decay``: the schedule of chapter 01's autoencoders, Adam at 3e-3 held for the first
  80 % of the steps, then a linear decay to 0 over the last 20 % (eq. ch01-schedule).

The test-set evaluation after each epoch draws its posterior samples from its own seeded
generator, so the training run is the one ``zoo.trained_vae`` makes: the cosine run ends with
the chapter's model, and ``final_test_neg_elbo`` (``evaluate.negative_elbo``, as the chapter
computes it) is the chapter's number. tests/test_complete_vae.py checks that chapter 04's
prose and the saved JSON agree.

Used in: benchmarks/README.md, notebooks/04_vae.ipynb.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The two schedules compared: overrides of ``configs.VAEConfig()``.
SCHEDULES = ("cosine", "stable-decay")


def evaluation_loss(base_loss):
    """``base_loss`` for training; in eval mode (the per-epoch test pass of ``train.fit``) the
    same loss under a forked, seeded global generator, so the test pass neither depends on nor
    moves the training run's random stream."""
    import torch

    def loss(model, x):
        if model.training:
            return base_loss(model, x)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(len(x))
            return base_loss(model, x)

    return loss


def run(fast: bool) -> dict:
    import torch

    from aevae_lib import zoo
    from aevae_lib.configs import VAEConfig
    from aevae_lib.data import fixed_binarization
    from aevae_lib.evaluate import negative_elbo
    from aevae_lib.models import VAE
    from aevae_lib.runtime import seed_everything
    from aevae_lib.train import fit, vae_loss

    seed_everything(0)
    defaults = VAEConfig().to_dict()
    epochs = 3 if fast else defaults["epochs"]
    data = zoo.mnist_tensors("cpu", n_train=1_000 if fast else None)
    x_test = fixed_binarization(data["x_test"])  # (10000, 784), as in the chapter
    runs = {}
    for schedule in SCHEDULES:
        print(f"training the VAE with schedule={schedule!r} ...", file=sys.stderr, flush=True)
        torch.manual_seed(defaults["seed"])  # the same initial weights as zoo.trained_vae
        model = VAE(
            latent_dim=defaults["latent_dim"],
            hidden=defaults["hidden"],
            activation=defaults["activation"],
            likelihood=defaults["likelihood"],
        )
        history = fit(
            model,
            data["x_train"],
            loss_fn=evaluation_loss(vae_loss(defaults["likelihood"], defaults["beta"])),
            binarize=defaults["binarize"],
            progress=False,
            x_val=x_test,
            epochs=epochs,
            batch_size=defaults["batch_size"],
            lr=defaults["lr"],
            seed=defaults["seed"],
            schedule=schedule,
        )
        runs[schedule] = {
            "settings": {"lr": defaults["lr"], "schedule": schedule, "epochs": epochs},
            "test_neg_elbo_per_epoch": [round(v, 3) for v in history["val_loss"]],
            "final_test_neg_elbo": round(negative_elbo(model, x_test)["neg_elbo"], 3),
            "train_seconds": round(sum(history["seconds"]), 1),
        }
    cosine, stable = (runs[s]["test_neg_elbo_per_epoch"] for s in SCHEDULES)
    return {
        "runs": runs,
        "stable_decay_minus_cosine_final": round(stable[-1] - cosine[-1], 3),
        "epochs_where_cosine_is_lower": sum(c < s for c, s in zip(cosine, stable, strict=True)),
        "mode": "fast" if fast else "full",
        "machine": {
            "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "platform": platform.platform(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="1,000 images, 3 epochs")
    args = parser.parse_args(argv)
    if "AEVAE_DATA" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
        os.environ["AEVAE_DATA"] = str(REPO.parent / "shared" / "data")
    print(json.dumps(run(args.fast), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
