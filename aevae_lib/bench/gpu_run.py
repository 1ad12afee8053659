"""The GPU reference run: a plain VAE trained against the clock, then -log p(x) with k = 5000.

The target is the IWAE paper's one-stochastic-layer VAE (Burda, Grosse and Salakhutdinov 2015,
Table 1): 86.76 nats on the 10,000 dynamically binarized MNIST test images, estimated with
5000 importance samples, after 3280 passes over the data. Here the model is the same kind
(an MLP encoder and decoder, Gaussian prior N(0, I), diagonal Gaussian posterior, Bernoulli
pixels, single-sample ELBO), wider, and trained for a fixed wall-clock budget:

- data on the device, a fresh Bernoulli binarization of every minibatch (dynamic binarization);
- Adam with a cosine learning rate that decays with *elapsed time*, so the run ends at the
  budget with a small learning rate, whatever the speed of the machine;
- on CUDA the whole training step (binarize, forward, backward, Adam) is captured once in a
  CUDA graph and replayed, because a step of this small MLP is bound by kernel launches, not
  arithmetic; TF32 matmuls in training, full float32 in evaluation;
- ``n_val`` training images are held out; the weights with the best validation ELBO are kept.

Used in: ``python -m aevae_lib reproduce --device cuda``. The CPU route, resumable and
scheduled by epochs, is ``cpu_run``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings

import torch
import torch.nn.functional as F

from ..configs import VAEConfig
from ..data import fixed_binarization, mnist_tensors
from ..evaluate import negative_elbo, test_nll
from ..models import VAE
from ..objectives import bits_per_dim, gaussian_kl

#: The IWAE paper's one-layer VAE: nats per test image, IS with 5000 samples (Burda et al. 2015).
TARGET_NATS = 86.76


def reproduce_defaults() -> dict:
    """Settings of the reference run (each is a ``python -m aevae_lib reproduce`` option)."""
    return dict(
        hidden=[512, 512],
        latent_dim=32,
        activation="relu",
        batch_size=128,
        lr=1e-3,
        minutes=9.0,
        n_val=5000,
        seed=0,
        k=5000,
        n_test=10_000,
        cuda_graphs=True,
    )


def neg_elbo_fast(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """Mean negative ELBO of a Bernoulli VAE without input checks (no host syncs, graph-safe)."""
    out = model(x)
    recon = F.binary_cross_entropy_with_logits(out.x_out, x, reduction="none").sum(-1)  # (B,)
    return (recon + gaussian_kl(out.mu, out.logvar)).mean()


class _Stepper:
    """One training step on a minibatch chosen by ``idx``: eager, or replayed from a CUDA graph."""

    def __init__(self, model, x_train, batch_size, lr, use_graph):
        self.model, self.x = model, x_train
        if len(x_train) < batch_size:
            raise ValueError(f"batch_size {batch_size} exceeds the {len(x_train)} training images")
        # a valid first minibatch for the warm-up steps of a capture
        self.idx = torch.arange(batch_size, device=x_train.device)
        self.graph = None
        if use_graph:
            lr_t = torch.tensor(lr, device=x_train.device)
            self.opt = torch.optim.Adam(model.parameters(), lr=lr_t, capturable=True)
            self._capture()
        else:
            try:
                self.opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
            except (RuntimeError, ValueError, TypeError):
                self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def _loss(self):
        xb = self.x.index_select(0, self.idx)  # (B, D) intensities
        xb = (torch.rand_like(xb) < xb).to(xb.dtype)  # dynamic binarization
        return neg_elbo_fast(self.model, xb)

    def _eager_step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self._loss()
        loss.backward()
        self.opt.step()
        return loss

    def _capture(self):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up steps (they train too) before the capture
            for _ in range(3):
                self._eager_step()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.static_loss = self._loss()
            self.static_loss.backward()
            self.opt.step()

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)  # in place: the captured graph reads this tensor
            else:
                group["lr"] = lr

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        self.idx.copy_(idx)
        if self.graph is None:
            return self._eager_step().detach()
        self.graph.replay()
        return self.static_loss


def train_for(
    model: VAE,
    x_train: torch.Tensor,
    *,
    seconds: float,
    batch_size: int,
    lr: float,
    seed: int = 0,
    x_val: torch.Tensor | None = None,
    cuda_graphs: bool = True,
    evaluations: int = 20,
) -> dict:
    """Train ``model`` for ``seconds`` of wall-clock time; return a JSON-able history.

    The learning rate follows lr * (1 + cos(pi * t / seconds)) / 2 in the elapsed time t.
    With ``x_val`` (binary images), the validation negative ELBO is measured ``evaluations``
    times and the best weights are loaded at the end.
    """
    device = x_train.device
    torch.manual_seed(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    use_graph = cuda_graphs and device.type == "cuda"
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True  # training only; evaluation is full float32
    try:
        try:
            stepper = _Stepper(model, x_train, batch_size, lr, use_graph)
        except Exception as err:  # a capture that fails must not cost the run: train eagerly
            warnings.warn(
                f"CUDA graph capture failed ({err}); training eagerly", RuntimeWarning, stacklevel=2
            )
            use_graph = False
            stepper = _Stepper(model, x_train, batch_size, lr, False)
        n, steps, evals, best = len(x_train), 0, [], (math.inf, None)
        next_eval = seconds / evaluations
        model.train()
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < seconds:
            order = torch.randperm(n, generator=gen, device=device)
            for i in range(0, n - batch_size + 1, batch_size):  # full batches only (static shapes)
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    break
                stepper.set_lr(lr * 0.5 * (1.0 + math.cos(math.pi * elapsed / seconds)))
                loss = stepper.step(order[i : i + batch_size])
                steps += 1
                if x_val is not None and elapsed >= next_eval:
                    next_eval += seconds / evaluations
                    val = _validate(model, x_val)
                    evals.append(
                        {"t": round(elapsed, 1), "train_loss": float(loss), "val_neg_elbo": val}
                    )
                    if val < best[0]:
                        best = (val, copy.deepcopy(model.state_dict()))
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_s = time.perf_counter() - start
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    if x_val is not None:
        val = _validate(model, x_val)
        evals.append({"t": round(train_s, 1), "val_neg_elbo": val})
        if val < best[0]:
            best = (val, None)  # the final weights are the best: keep them
        elif best[1] is not None:
            model.load_state_dict(best[1])
    model.eval()
    return {
        "train_s": train_s,
        "steps": steps,
        "epochs": steps * batch_size / n,
        "ms_per_step": 1e3 * train_s / max(steps, 1),
        "cuda_graphs": use_graph,
        "best_val_neg_elbo": best[0] if x_val is not None else None,
        "evaluations": evals,
    }


@torch.no_grad()
def _validate(model: VAE, x_val: torch.Tensor) -> float:
    model.eval()
    total = sum(neg_elbo_fast(model, xb) * len(xb) for xb in x_val.split(5000))
    model.train()
    return float(total) / len(x_val)


def run_reproduce(*, device: torch.device, progress=print, **settings) -> tuple[VAE, dict]:
    """Train and evaluate the reference VAE; return the model and one JSON-able result dict."""
    config = {**reproduce_defaults(), **settings}
    unknown = set(settings) - set(reproduce_defaults())
    if unknown:
        raise TypeError(
            f"unknown setting(s) {sorted(unknown)}; valid: {sorted(reproduce_defaults())}"
        )
    if not config["minutes"] > 0:
        raise ValueError(f"minutes must be > 0, got {config['minutes']!r}")
    data = mnist_tensors(device)
    x_all = data["x_train"]
    gen = torch.Generator().manual_seed(config["seed"])
    perm = torch.randperm(len(x_all), generator=gen).to(device)
    n_val = config["n_val"]
    x_val = fixed_binarization(x_all[perm[:n_val]], seed=1) if n_val else None
    x_train = x_all[perm[n_val:]]
    torch.manual_seed(config["seed"])
    model_config = VAEConfig(
        latent_dim=config["latent_dim"],
        hidden=tuple(config["hidden"]),
        activation=config["activation"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        schedule="cosine",
        seed=config["seed"],
        binarize=True,
        device=device.type,
    )
    model = model_config.build().to(device)
    progress(
        f"training {sum(p.numel() for p in model.parameters()):,} parameters on {device} "
        f"for {config['minutes']} min"
    )
    history = train_for(
        model,
        x_train,
        seconds=60.0 * config["minutes"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        seed=config["seed"],
        x_val=x_val,
        cuda_graphs=config["cuda_graphs"],
    )
    # the schedule ran by the clock: the configuration records the passes actually made
    model.config = dataclasses.replace(model_config, epochs=max(1, math.ceil(history["epochs"])))
    progress(f"trained {history['epochs']:.0f} epochs; evaluating with k={config['k']}")
    start = time.perf_counter()
    x_test = fixed_binarization(data["x_test"][: config["n_test"]], seed=0)
    max_rows = 200_000 if device.type == "cuda" else 50_000
    nll = test_nll(model, x_test, k=config["k"], max_rows=max_rows)
    elbo = negative_elbo(model, x_test)
    if device.type == "cuda":
        torch.cuda.synchronize()
    eval_s = time.perf_counter() - start
    full = config["k"] >= 5000 and config["n_test"] >= 10_000
    result = {
        "test_nll_iw": nll,
        "k": config["k"],
        "n_test": len(x_test),
        "test_neg_elbo": elbo["neg_elbo"],
        "bits_per_dim": bits_per_dim(nll),
        "target_nats": TARGET_NATS,
        "meets_target": bool(full and nll <= TARGET_NATS),
        "comparable_to_target": full,
        "train_s": history["train_s"],
        "eval_s": eval_s,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "config": config,
        **{k: v for k, v in history.items() if k != "train_s"},
    }
    return model, result
