"""The reference VAE on a CPU: a long run, scheduled by epochs, that survives interruptions.

Chapter 08 compares the book's VAE with the IWAE paper's one-stochastic-layer VAE (Burda,
Grosse and Salakhutdinov 2015, Table 1: 86.76 nats on the dynamically binarized MNIST test
set, importance sampling with k = 5000, after 3280 passes over the data). A model of that
size is a small MLP; what it needs is many epochs, so this run is built to be left alone for
hours and to be stopped and started again:

- **one state file** holds everything the next epoch depends on: the weights, Adam's
  moments, the position in the learning-rate schedule, both random generators (the one that
  shuffles and binarizes the data, and torch's global one that draws the reparameterization
  noise), the best weights so far and the whole history. It is written atomically (a
  temporary file, then a rename) at the end of an epoch, at most every ``save_every_s``
  seconds, and whenever SIGINT or SIGTERM asks the run to stop;
- **resuming is exact**: started again with the same settings, the run continues from the
  saved epoch, and a run cut in two ends bit for bit where one uninterrupted run of the same
  length ends (``tests/test_bench_cpu_run.py``, at small size, same number of threads);
- **the schedule counts epochs, not seconds**, so the result does not depend on how busy
  the machine was: ``lr`` for the first 80 % of the steps, then linearly to 0
  (``train.lr_factor``, the schedule of the book's autoencoders);
- ``n_val`` training images are held out (binarized once); their negative ELBO is measured
  every ``eval_every`` epochs, and the weights with the best value are kept beside the
  latest ones. Training images are binarized afresh in every minibatch (dynamic
  binarization), as in the paper.

``export`` writes the best weights as an ordinary checkpoint (``checkpoint.load_checkpoint``
reads it) and a SHA-256 file beside it; ``zoo.reference_vae`` verifies that hash.

Used in: ``python -m aevae_lib reference`` (benchmarks/README.md shows the command).
"""

from __future__ import annotations

import io
import math
import os
import platform
import signal
import statistics
import threading
import time
from pathlib import Path

import torch

from ..checkpoint import save_checkpoint
from ..configs import VAEConfig
from ..data import fixed_binarization, load_mnist
from ..evaluate import negative_elbo
from ..models import VAE
from ..runtime import atomic_write_bytes, flush_denormals, sha256_file
from ..train import (
    DECAY_FRACTION,
    _scheduler,
    _train_epoch,
    adam,
    check_fit_settings,
    vae_loss,
)

#: Format tag of the state file; a file with another tag is refused.
STATE_FORMAT = "aevae-reference-state/1"

#: The IWAE paper's one-layer VAE: nats per test image, IS with 5000 samples (Burda et al. 2015).
TARGET_NATS = 86.76


def reference_defaults() -> dict:
    """Settings of the CPU reference run; each is a ``python -m aevae_lib reference`` option.

    The architecture, batch size and schedule were chosen by short runs measured side by side
    (benchmarks/results/reference_pilots.json, benchmarks/README.md).
    """
    return dict(
        hidden=[200, 200],
        activation="tanh",
        latent_dim=50,
        batch_size=100,
        lr=1e-3,
        schedule="stable-decay",
        epochs=1000,
        n_val=5000,
        n_train=None,
        eval_every=5,
        seed=0,
    )


def check_settings(settings: dict) -> dict:
    """The defaults updated by ``settings``, checked before any data is read or work is done."""
    defaults = reference_defaults()
    unknown = set(settings) - set(defaults)
    if unknown:
        raise TypeError(f"unknown setting(s) {sorted(unknown)}; valid: {sorted(defaults)}")
    config = {**defaults, **settings}
    check_fit_settings(
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        seed=config["seed"],
        schedule=config["schedule"],
    )
    hidden = config["hidden"]
    if not isinstance(hidden, (list, tuple)) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        raise ValueError(f"hidden must be a list of positive ints, e.g. [200, 200], got {hidden!r}")
    config["hidden"] = list(hidden)
    for name in ("latent_dim", "eval_every"):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    n_val = config["n_val"]
    if not isinstance(n_val, int) or isinstance(n_val, bool) or not 0 < n_val < 60_000:
        raise ValueError(f"n_val must be an int between 1 and 59,999, got {n_val!r}")
    n_train = config["n_train"]
    if n_train is not None and (
        not isinstance(n_train, int)
        or isinstance(n_train, bool)
        or not 0 < n_train <= 60_000 - n_val
    ):
        raise ValueError(
            f"n_train must be None (all {60_000 - n_val:,} images left after n_val) or an int "
            f"between 1 and {60_000 - n_val:,}, got {n_train!r}"
        )
    model_config(config)  # checks the model's settings too
    return config


def split(config: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Training intensities (N, 784) and the held-out validation images, binarized once."""
    x, _ = load_mnist("train")
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(config["seed"]))
    x_val = fixed_binarization(x[perm[: config["n_val"]]], seed=1)
    x_train = x[perm[config["n_val"] :]]
    if config["n_train"] is not None:
        x_train = x_train[: config["n_train"]]
    return x_train, x_val


def model_config(config: dict) -> VAEConfig:
    """The model configuration of the run: a Bernoulli VAE with dynamic binarization."""
    return VAEConfig(
        latent_dim=config["latent_dim"],
        hidden=tuple(config["hidden"]),
        activation=config["activation"],
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        schedule=config["schedule"],
        seed=config["seed"],
        binarize=True,
        n_train=config["n_train"],
    )


def build_model(config: dict) -> VAE:
    """The untrained VAE of the run; its initial weights follow from ``config["seed"]``."""
    return model_config(config).build()


def validation_neg_elbo(model: VAE, x_val: torch.Tensor) -> float:
    """Negative ELBO of the held-out images with fixed noise, leaving torch's generator as it
    was (the training noise must not depend on when the run evaluated)."""
    with torch.random.fork_rng(devices=[]):
        value = negative_elbo(model, x_val, seed=0)["neg_elbo"]
    model.train()
    return value


class _StopRequest:
    """Turns SIGINT / SIGTERM into a flag that the loop reads at the end of an epoch."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _new_state(config: dict) -> dict:
    return {
        "format": STATE_FORMAT,
        "config": config,
        "epoch": 0,
        "threads": torch.get_num_threads(),
        "train_s": 0.0,
        "cpu_s": 0.0,
        "history": {
            "epoch": [],
            "loss": [],
            "recon": [],
            "kl": [],
            "seconds": [],
            "lr": [],
            "val_epoch": [],
            "val_neg_elbo": [],
        },
        "best": {"epoch": 0, "val_neg_elbo": math.inf, "state_dict": None},
    }


def load_state(path: Path) -> dict:
    """A state file written by ``run``; a clear error if it is not one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path} is not a readable reference-run state ({type(err).__name__})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(
            f"{path} is not a reference-run state file (expected format {STATE_FORMAT})"
        )
    return state


def _save_state(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def run(
    settings: dict | None = None,
    *,
    state_path,
    until_epoch: int | None = None,
    save_every_s: float = 300.0,
    progress=print,
) -> dict:
    """Train the reference VAE, or resume it from ``state_path``, up to ``until_epoch``.

    Args:
        settings: overrides of ``reference_defaults()``. Resuming needs the same settings as
            the saved run; any difference is refused with the names that differ, except a new
            ``epochs`` for a stable-decay run still in its stable phase (``_change_horizon``).
        state_path: the state file; read if it exists, written at least every
            ``save_every_s`` seconds (at an epoch's end) and when the call returns.
        until_epoch: stop after this epoch (default: the run's last, ``epochs``). Stopping
            early and calling again gives the same result as one call.
        progress: called with one line per epoch (epoch, losses, validation, time to the end).

    Returns:
        the state dict (weights, history, best weights) as saved.
    """
    config = check_settings(settings or {})
    state_path = Path(state_path)
    until = config["epochs"] if until_epoch is None else until_epoch
    if not isinstance(until, int) or isinstance(until, bool) or not 0 < until <= config["epochs"]:
        raise ValueError(
            f"until_epoch must be an int in 1..{config['epochs']}, got {until_epoch!r}"
        )
    if not save_every_s >= 0:
        raise ValueError(f"save_every_s must be >= 0 seconds, got {save_every_s!r}")

    state = load_state(state_path) if state_path.exists() else _new_state(config)
    x_train, x_val = split(config)
    steps_per_epoch = math.ceil(len(x_train) / config["batch_size"])
    if state["config"] != config:
        differ = sorted(k for k in config if state["config"].get(k) != config[k])
        if differ == ["epochs"]:
            _change_horizon(state, config, steps_per_epoch, progress)
        else:
            raise ValueError(
                f"{state_path} holds a run with other settings ({', '.join(differ)} differ: "
                f"saved {[state['config'].get(k) for k in differ]}, asked "
                f"{[config[k] for k in differ]}); pass the saved settings to resume it, or "
                "another --state path to start anew"
            )
    if state["threads"] != torch.get_num_threads():
        progress(
            f"note: the run was started with {state['threads']} thread(s), this process has "
            f"{torch.get_num_threads()}; the result stays valid but is not bit-identical "
            "to an uninterrupted run"
        )
    model = build_model(config)
    optimizer = adam(model.parameters(), config["lr"])
    scheduler = _scheduler(optimizer, config["schedule"], config["epochs"] * steps_per_epoch)
    gen = torch.Generator().manual_seed(config["seed"])
    torch.manual_seed(config["seed"])  # the reparameterization noise
    if state["epoch"] > 0:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        gen.set_state(state["rng"]["data"])
        torch.set_rng_state(state["rng"]["torch"])
        progress(f"resuming {state_path} after epoch {state['epoch']} of {config['epochs']}")
    if state["epoch"] >= until:
        return state

    loss_fn = vae_loss("bernoulli")
    hist = state["history"]
    last_save = time.monotonic()
    model.train()
    with flush_denormals(), _StopRequest() as stop:
        while state["epoch"] < until:
            epoch = state["epoch"] + 1
            lr = optimizer.param_groups[0]["lr"]
            wall0, cpu0 = time.perf_counter(), time.process_time()
            means = _train_epoch(
                model,
                (x_train,),
                loss_fn,
                optimizer,
                scheduler,
                gen,
                batch_size=config["batch_size"],
                binarize=True,
                epoch=epoch,
            )
            seconds = time.perf_counter() - wall0
            state["train_s"] += seconds
            state["cpu_s"] += time.process_time() - cpu0
            for key, value in (
                ("epoch", epoch),
                ("loss", means["loss"]),
                ("recon", means["recon"]),
                ("kl", means["kl"]),
                ("seconds", seconds),
                ("lr", lr),
            ):
                hist[key].append(value)
            line = f"epoch {epoch}/{config['epochs']}  train -ELBO {means['loss']:.2f}"
            if epoch % config["eval_every"] == 0 or epoch == config["epochs"]:
                val = validation_neg_elbo(model, x_val)
                hist["val_epoch"].append(epoch)
                hist["val_neg_elbo"].append(val)
                if val < state["best"]["val_neg_elbo"]:
                    state["best"] = {
                        "epoch": epoch,
                        "val_neg_elbo": val,
                        "state_dict": {k: v.clone() for k, v in model.state_dict().items()},
                    }
                line += f"  val -ELBO {val:.2f}"
            best = state["best"]
            if best["epoch"]:
                line += f" (best {best['val_neg_elbo']:.2f} at {best['epoch']})"
            recent = statistics.median(hist["seconds"][-20:])
            line += (
                f"  {recent:.1f} s/epoch, {_duration(recent * (config['epochs'] - epoch))} to go"
            )
            progress(line)
            state["epoch"] = epoch
            due = time.monotonic() - last_save >= save_every_s
            if due or stop.requested or epoch == until:
                state["model"] = model.state_dict()
                state["optimizer"] = optimizer.state_dict()
                state["scheduler"] = scheduler.state_dict()
                state["rng"] = {"data": gen.get_state(), "torch": torch.get_rng_state()}
                _save_state(state_path, state)
                last_save = time.monotonic()
            if stop.requested:
                progress(
                    f"stopped after epoch {epoch}; the state is saved in {state_path}. "
                    "Run the same command again to resume."
                )
                break
    model.eval()
    return state


def _change_horizon(state: dict, config: dict, steps_per_epoch: int, progress) -> None:
    """Give a stable-then-decay run another length while it is still in its stable phase.

    Until its last ``DECAY_FRACTION`` of steps the schedule is the constant ``lr`` whatever the
    run's length, so a run that has not begun to decay may be lengthened or shortened: every
    step taken so far had the rate it would have had in a run of the new length, and the run
    ends bit for bit where a run started with the new length ends. Otherwise: a clear error.
    """
    old, new = state["config"]["epochs"], config["epochs"]

    def last_stable_step(epochs: int) -> int:  # the last step at the full rate (train.lr_factor)
        total = epochs * steps_per_epoch
        return total - max(1, round(DECAY_FRACTION * total))

    done = state["epoch"] * steps_per_epoch  # steps taken; the next one is step number `done`
    if config["schedule"] != "stable-decay" or done > min(
        last_stable_step(old), last_stable_step(new)
    ):
        raise ValueError(
            f"cannot change epochs from {old} to {new} after epoch {state['epoch']}: only a "
            "stable-decay run that has not begun to decay can change its length, and the new "
            f"length must keep epoch {state['epoch']} in the stable phase, the first "
            f"{1 - DECAY_FRACTION:.0%} of the steps, at the full rate; resume with --epochs {old}"
        )
    state["config"] = dict(state["config"], epochs=new)
    state.setdefault("horizon_changes", []).append(
        {"after_epoch": state["epoch"], "from": old, "to": new}
    )
    progress(
        f"the run's length changes from {old} to {new} epochs after epoch {state['epoch']}"
        " (still in the stable phase: the schedule so far is the same)"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def summary(state: dict) -> dict:
    """What the JSON of the run records: settings, epochs, times, machine, curve, best epoch."""
    hist = state["history"]
    return {
        "config": state["config"],
        "epochs_done": state["epoch"],
        "best_epoch": state["best"]["epoch"],
        "horizon_changes": state.get("horizon_changes", []),
        "best_val_neg_elbo": state["best"]["val_neg_elbo"],
        "train_s": state["train_s"],
        "cpu_s": state["cpu_s"],
        "median_s_per_epoch": statistics.median(hist["seconds"]) if hist["seconds"] else None,
        "threads": state["threads"],
        "machine": {
            "cpu": _cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": str(torch.__version__),
        },
        "curve": {key: hist[key] for key in ("epoch", "loss", "recon", "kl", "lr")},
        "val_curve": {"epoch": hist["val_epoch"], "neg_elbo": hist["val_neg_elbo"]},
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def export(state: dict, path) -> Path:
    """Write the best weights of ``state`` as a checkpoint at ``path``, and ``path.sha256``.

    The checkpoint's configuration (``model_config``) rebuilds the model and says the test set
    is binarized, so ``python -m aevae_lib evaluate`` scores it like the book's VAE; its history
    holds ``summary(state)`` as ``history["reference_run"]``.
    """
    if state["best"]["state_dict"] is None:
        raise ValueError("the run has no validated weights yet: train at least eval_every epochs")
    model = build_model(state["config"])
    model.load_state_dict(state["best"]["state_dict"])
    history = {"seconds": state["train_s"], "reference_run": summary(state)}
    path = save_checkpoint(path, model, model.config, history)
    Path(f"{path}.sha256").write_text(f"{sha256_file(path)}  {path.name}\n")
    return path
