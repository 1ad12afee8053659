"""The training loop: ``fit`` and its learning-rate schedules (the losses live in ``objectives``).

Owns: ``fit``, ``adam``, ``SCHEDULES``/``lr_factor``/``DECAY_FRACTION``, ``check_fit_settings``
and the non-finite-loss guard.

``fit`` is the loop every chapter uses: minibatches by tensor indexing (no per-sample
DataLoader), optional dynamic binarization, Adam, a tqdm progress bar, a history dict, and a
guard that stops on a non-finite loss with the epoch, the step and the usual causes.

Used in: notebooks/01_autoencoder.ipynb (first), and every chapter that trains a model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from .data import binarize as _binarize
from .data import minibatches
from .objectives import LossFn, has_nonfinite
from .runtime import fast_epochs, flush_denormals

#: ``callback(model, epoch, history)``, called by ``fit`` after every epoch (see ``fit``).
Callback = Callable[[nn.Module, int, dict], None]

#: Learning-rate schedules ``fit`` knows.
SCHEDULES = ("constant", "cosine", "stable-decay")

#: Fraction of the steps over which "stable-decay" lowers the learning rate linearly to 0.
DECAY_FRACTION = 0.2


def fit(
    model: nn.Module,
    x: torch.Tensor,
    *,
    loss_fn: LossFn,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    binarize: bool = False,
    y: torch.Tensor | None = None,
    schedule: str = "constant",
    progress: bool = True,
    desc: str = "training",
    x_val: torch.Tensor | None = None,
    callback: Callback | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` in place with Adam and return the history (per-epoch means).

    Args:
        x: training data (N, D) on the model's device. y: optional labels (N,), passed to
            ``loss_fn(model, xb, yb)`` when given.
        loss_fn: ``loss_fn(model, xb) -> dict(loss=..., ...)``; every entry is logged.
        binarize: draw a fresh Bernoulli binarization of every minibatch (dynamic binarization).
        seed: seeds the shuffling, the binarization and the model's sampling noise.
        schedule: "constant" learning rate; "cosine": decay from ``lr`` to 0 over training
            (a larger batch with a higher, decaying rate trains faster per second on a CPU);
            "stable-decay": ``lr`` for the first 80 % of the steps, then a linear decay to 0
            over the last 20 % (``DECAY_FRACTION``). The decay cashes in the progress a
            constant rate hides in its noise: chapter 01's autoencoder reaches in 5 epochs the
            test error that a constant rate needs 8 for (benchmarks/README.md).
        x_val: optional held-out data (M, D) without labels; after every epoch ``loss_fn`` is
            evaluated on it (eval mode, no gradients) and logged as "val_<key>".
        callback: optional ``callback(model, epoch, history)``, called after every epoch
            (epoch counts from 1; ``history`` already holds that epoch's values) to watch the
            model as it trains, e.g. to record the KL of every latent dimension. It runs
            under ``torch.no_grad()``, and the global random state and the model's train
            mode are restored afterwards, so a callback that only observes leaves the weights
            and the history bit-identical to a run without it. It may add its own keys to
            ``history``; its time is not counted in "seconds". Used in: chapter 09.

    In fast mode (``AEVAE_FAST=1``) at most ``runtime.FAST_EPOCHS`` epochs are run.

    Returns:
        dict of lists, one value per epoch for every key of the loss dict, plus "seconds"
        (training time only) and the "val_" keys when ``x_val`` is given.
    """
    check_fit_settings(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, schedule=schedule)
    _check_data(x, y)
    if callback is not None and not callable(callback):
        raise TypeError(
            "callback must be None or a function callback(model, epoch, history), got "
            f"{type(callback).__name__}"
        )
    epochs = fast_epochs(epochs)
    from tqdm.auto import tqdm

    gen = torch.Generator(device="cpu").manual_seed(seed)
    torch.manual_seed(seed)  # the reparameterization noise inside the model
    optimizer = adam(model.parameters(), lr)
    scheduler = _scheduler(optimizer, schedule, epochs * math.ceil(len(x) / batch_size))
    history: dict[str, list[float]] = {"seconds": []}
    tensors = (x,) if y is None else (x, y)
    with flush_denormals():  # subnormal Adam moments slow a CPU step down
        model.train()
        bar = tqdm(range(1, epochs + 1), desc=desc, disable=not progress, leave=False)
        for epoch in bar:
            start = time.perf_counter()
            means = _train_epoch(
                model,
                tensors,
                loss_fn,
                optimizer,
                scheduler,
                gen,
                batch_size=batch_size,
                binarize=binarize,
                epoch=epoch,
            )
            for key, value in means.items():
                history.setdefault(key, []).append(value)
            history["seconds"].append(time.perf_counter() - start)
            if x_val is not None:
                for key, value in _evaluate_loss(model, x_val, loss_fn).items():
                    history.setdefault(f"val_{key}", []).append(value)
            if callback is not None:
                _observe(callback, model, epoch, history)
            bar.set_postfix(loss=f"{history['loss'][-1]:.2f}")
    model.eval()
    return history


def _observe(callback: Callback, model: nn.Module, epoch: int, history: dict) -> None:
    """Run ``callback(model, epoch, history)`` without gradients, then restore the global
    random state (CPU and CUDA) and train mode, so that watching does not change training."""
    devices = [model_device] if (model_device := _param_device(model)).type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        callback(model, epoch, history)
    model.train()


def _param_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _train_epoch(
    model: nn.Module,
    tensors: tuple[torch.Tensor, ...],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    scheduler,
    gen: torch.Generator,
    *,
    batch_size: int,
    binarize: bool,
    epoch: int,
) -> dict[str, float]:
    """One shuffled pass over ``tensors``, one optimizer step per minibatch; returns the mean of
    every entry of the loss dict, weighted by the minibatch sizes."""
    sums: dict[str, torch.Tensor] = {}
    count = 0
    for step, batch in enumerate(minibatches(*tensors, batch_size=batch_size, generator=gen)):
        xb = _binarize(batch[0], gen) if binarize else batch[0]
        terms = _checked_terms(loss_fn(model, xb, *batch[1:]), epoch, step)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        scheduler.step()
        n = len(xb)
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + value.detach() * n
        count += n
    return {key: float(total) / count for key, total in sums.items()}


def _checked_terms(terms, epoch: int, step: int) -> dict:
    """``terms`` if it is a loss dict with a finite "loss"; otherwise an error that says why."""
    if not isinstance(terms, dict) or "loss" not in terms:
        raise TypeError(
            "loss_fn must return a dict with a 'loss' entry (e.g. {'loss': loss}), "
            f"got {type(terms).__name__}"
            + (f" with keys {sorted(terms)}" if isinstance(terms, dict) else "")
        )
    loss = terms["loss"]
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"non-finite loss ({loss.item()}) at epoch {epoch}, step {step}. Usual causes: "
            "a learning rate too high (try lr / 10), inputs with NaN/inf, or a "
            "log-variance that overflows exp(); check the data and lower lr."
        )
    return terms


@torch.no_grad()
def _evaluate_loss(model: nn.Module, x: torch.Tensor, loss_fn: LossFn, batch_size: int = 1000):
    """Mean of every entry of ``loss_fn`` over ``x`` in eval mode; the model is left training."""
    model.eval()
    sums: dict[str, float] = {}
    for xb in x.split(batch_size):
        for key, value in loss_fn(model, xb).items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(xb)
    model.train()
    return {key: total / len(x) for key, total in sums.items()}


def check_fit_settings(
    *, epochs: int, batch_size: int, lr: float, seed: int = 0, schedule: str = "constant"
) -> None:
    """Refuse bad training settings with a message naming the setting (used by fit and zoo)."""
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"lr must be a number > 0 (e.g. 1e-3), got {lr!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def _check_data(x, y) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            "x must be a floating-point torch.Tensor (N, D), got "
            + (f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__)
        )
    if len(x) == 0:
        raise ValueError(f"x must hold at least one example, got shape {tuple(x.shape)}")
    if has_nonfinite(x):
        bad = (~torch.isfinite(x.reshape(len(x), -1))).any(dim=1).nonzero().flatten()
        raise ValueError(
            f"x must be finite, got NaN or infinite values in {len(bad)} of {len(x)} examples "
            f"(first: row {bad[0].item()}); clean or drop them before training"
        )
    if y is not None and len(y) != len(x):
        raise ValueError(f"y must have one label per example of x: x has {len(x)}, y has {len(y)}")


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam, with the fused kernel where the parameters' device has one (CPU, CUDA): one pass
    over all parameters instead of about ten per tensor; on a 2-core CPU the optimizer step of
    the 784-400-20 VAE drops from about 3 ms to 0.4 ms (benchmarks/README.md). Same update rule."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):  # a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=lr)


def _scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(schedule, total_steps))


def lr_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    """The factor ``step -> lr(step) / lr`` of ``schedule`` for a run of ``total_steps`` steps."""
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "cosine":
        return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    if schedule == "stable-decay":
        decay_steps = max(1, round(DECAY_FRACTION * total_steps))
        return lambda step: min(1.0, max(0.0, (total_steps - step) / decay_steps))
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
