"""Speed benchmark: the book's training loop against the pytorch/examples pipeline and the
compute limit of the machine, at equal numbers of epochs.

- ``ours``: ``train.fit`` on in-memory tensors with the chapter-04 settings (``configs.VAEConfig``:
  batch 256, cosine schedule, dynamic binarization) for the 784-400-20 VAE.
- ``peer``: ``peer_vae.peer_train``, a faithful replica of pytorch/examples ``vae/main.py``
  (per-sample Dataset + DataLoader, batch 128, Adam 1e-3, grayscale targets).
- ``flop_limit``: the matmul FLOPs of one epoch (3x the forward matmuls: forward, and the two
  matmuls of the backward pass) divided by the sgemm rate measured on this machine.

Both models are scored on the same 10,000 test images, binarized once with seed 0 (the book's
metric), and on the grayscale test images (the example's own "test loss"). Times are medians
of repeated epochs, so one slow epoch (another process, a page fault) does not decide.

Used in: ``python -m aevae_lib bench`` and benchmarks/README.md.
"""

from __future__ import annotations

import math
import platform
import statistics
import sys
import time

import torch
from torch import nn

from ..configs import VAEConfig
from ..data import binarize, fixed_binarization, mnist_tensors
from ..evaluate import negative_elbo
from ..models import VAE
from ..runtime import flush_denormals
from ..train import fit, vae_loss
from .peer_vae import peer_neg_elbo, peer_train


def sgemm_gflops(n: int = 1024, repeats: int = 20, threads: int | None = None) -> float:
    """Single-precision matmul rate (GFLOP/s): the median over ``repeats`` (n x n) @ (n x n)."""
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
        for _ in range(3):  # warm up the BLAS thread pool and caches
            a @ b
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(old)
    return 2 * n**3 / statistics.median(times) / 1e9


def forward_matmul_flops(model: nn.Module) -> int:
    """FLOPs of the ``nn.Linear`` matmuls of one forward pass of one example (2 * in * out each)."""
    return sum(
        2 * m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear)
    )


def epoch_flops(model: nn.Module, n_train: int = 60_000) -> int:
    """Training FLOPs of one epoch: forward + backward = 3x the forward matmuls, per example."""
    return 3 * forward_matmul_flops(model) * n_train


def _ours(data: dict, x_test_bin: torch.Tensor, *, epochs, batch_size, lr, schedule, threads=None):
    """Train the chapter-04 VAE with ``fit``; return per-epoch seconds and test -ELBO."""
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = VAE(latent_dim=20, hidden=[400])
        cpu_start = time.process_time()
        history = fit(
            model,
            data["x_train"],
            loss_fn=vae_loss("bernoulli"),
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            schedule=schedule,
            binarize=True,
            seed=0,
            progress=False,
        )
        cpu_per_epoch = (time.process_time() - cpu_start) / epochs
    finally:
        torch.set_num_threads(old)
    return model, history["seconds"], cpu_per_epoch


def _summary(seconds: list[float], cpu_per_epoch: float) -> dict:
    return {
        "s_per_epoch": statistics.median(seconds),
        "epoch_seconds": [round(s, 3) for s in seconds],
        "cpu_s_per_epoch": cpu_per_epoch,
    }


def run_bench(*, epochs: int = 10, sweep: bool = True, sweep_epochs: int = 3, n_train=None) -> dict:
    """Run the benchmark and return one JSON-able dict (see the module docstring).

    Args:
        epochs: epochs for ours and for the peer (the test -ELBO is compared after these).
        sweep: also time batch sizes, learning rates and thread counts (the evidence for the
            chosen settings); ``sweep_epochs`` epochs each (default 3).
        n_train: use only the first ``n_train`` training images (tests; None = all 60,000).
    """
    data = mnist_tensors("cpu", n_train)
    n = len(data["x_train"])
    x_test_gray = data["x_test"]
    x_test_bin = fixed_binarization(x_test_gray, seed=0)
    defaults = VAEConfig()
    chosen = dict(batch_size=defaults.batch_size, lr=defaults.lr, schedule=defaults.schedule)

    gflops = sgemm_gflops()
    flops = epoch_flops(VAE(latent_dim=20, hidden=[400]), n)

    _say(f"ours: {epochs} epochs")
    model, ours_seconds, ours_cpu = _ours(data, x_test_bin, epochs=epochs, **chosen)
    ours = {
        **_summary(ours_seconds, ours_cpu),
        **chosen,
        "test_neg_elbo": negative_elbo(model, x_test_bin)["neg_elbo"],
        "test_loss_grayscale": negative_elbo(model, x_test_gray)["neg_elbo"],
    }
    _say(
        f"ours: {statistics.median(ours_seconds):.2f} s per epoch; the pytorch/examples replica: {epochs} epochs"
    )
    peer_model, peer_history = peer_train(data["x_train"], data["y_train"], epochs=epochs)
    peer_seconds = peer_history["seconds"]
    _say(f"peer: {statistics.median(peer_seconds):.2f} s per epoch")
    peer = {
        **_summary(peer_seconds, statistics.mean(peer_history["cpu_seconds"])),
        "batch_size": 128,
        "lr": 1e-3,
        "schedule": "constant",
        "test_neg_elbo": peer_neg_elbo(peer_model, x_test_bin),
        "test_loss_grayscale": peer_neg_elbo(peer_model, x_test_gray),
    }
    result = {
        "device": _cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "n_train": n,
        "epochs": epochs,
        "sgemm_gflops": gflops,
        "epoch_gflop": flops / 1e9,
        "ours_s_per_epoch": ours["s_per_epoch"],
        "peer_s_per_epoch": peer["s_per_epoch"],
        "speedup": peer["s_per_epoch"] / ours["s_per_epoch"],
        "cpu_time_speedup": peer["cpu_s_per_epoch"] / ours["cpu_s_per_epoch"],
        "flop_limit_s_per_epoch": flops / (gflops * 1e9),
        "ours_test_neg_elbo": ours["test_neg_elbo"],
        "peer_test_neg_elbo": peer["test_neg_elbo"],
        "ours": ours,
        "peer": peer,
    }
    result["ours_over_flop_limit"] = result["ours_s_per_epoch"] / result["flop_limit_s_per_epoch"]
    result["quality_not_worse"] = ours["test_neg_elbo"] <= peer["test_neg_elbo"]
    if sweep:
        result["sweep"] = run_sweep(data, x_test_bin, epochs=sweep_epochs)
        result["step_breakdown_ms"] = step_breakdown()
    return result


#: (batch size, learning rate) pairs of the sweep; lr grows roughly with sqrt(batch size).
SWEEP_SETTINGS = ((128, 1e-3), (128, 2e-3), (256, 3e-3), (512, 4e-3), (1024, 6e-3))


def run_sweep(data: dict, x_test_bin: torch.Tensor, *, epochs: int) -> dict:
    """Seconds per epoch and test -ELBO after ``epochs`` for each batch size / lr (cosine),
    and seconds per epoch of the chosen settings with 1 and 2 threads."""
    rows = []
    for batch_size, lr in SWEEP_SETTINGS:
        _say(f"sweep: batch {batch_size}, lr {lr}")
        model, seconds, _ = _ours(
            data, x_test_bin, epochs=epochs, batch_size=batch_size, lr=lr, schedule="cosine"
        )
        rows.append(
            {
                "batch_size": batch_size,
                "lr": lr,
                "s_per_epoch": statistics.median(seconds),
                "test_neg_elbo": negative_elbo(model, x_test_bin)["neg_elbo"],
            }
        )
    defaults = VAEConfig()
    threads = []
    for t in sorted({1, torch.get_num_threads()}):
        _, seconds, _ = _ours(
            data,
            x_test_bin,
            epochs=2,
            batch_size=defaults.batch_size,
            lr=defaults.lr,
            schedule="cosine",
            threads=t,
        )
        threads.append({"threads": t, "s_per_epoch": statistics.median(seconds)})
    return {"epochs": epochs, "schedule": "cosine", "batch_lr": rows, "threads": threads}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cpu_ms(fn, repeats: int = 5, calls: int = 10) -> float:
    """Best of ``repeats`` CPU-time measurements of ``calls`` calls, in ms per call."""
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls * 1e3)
    return best


def adam_subnormal_ms(model: nn.Module) -> dict:
    """CPU ms of a fused Adam step when a third of the first moments are subnormal (1e-40, with
    no gradient there, so they stay subnormal, as for weights of blank border pixels), with
    and without flushing them to zero: the evidence behind ``runtime.flush_denormals``."""
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    gen = torch.Generator().manual_seed(1)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    optimizer.step()
    for p in params:
        stale = (torch.arange(p.numel()) % 3 == 0).reshape(p.shape)  # (p.shape) bool
        p.grad[stale] = 0.0
        optimizer.state[p]["exp_avg"][stale] = 1e-40
    subnormal = _cpu_ms(optimizer.step)
    with flush_denormals():
        flushed = _cpu_ms(optimizer.step)
    with torch.no_grad():  # leave the model as it was given
        for p, w in zip(params, saved, strict=True):
            p.copy_(w)
            p.grad = None
    return {"adam_fused_subnormal_moments": subnormal, "adam_fused_subnormal_flushed": flushed}


def step_breakdown(batch_size: int = 256) -> dict:
    """CPU milliseconds of the parts of one training step, one thread (the evidence behind
    ``data.binarize`` and ``train.adam``): CPU time is far less disturbed than wall time by
    other processes on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(batch_size, 784, generator=gen)
        model = VAE(latent_dim=20, hidden=[400])
        xb = binarize(x, gen)
        loss_fn = vae_loss("bernoulli")

        def forward_backward():
            model.zero_grad(set_to_none=True)
            loss_fn(model, xb)["loss"].backward()

        forward_backward()
        a, b = torch.randn(1024, 1024, generator=gen), torch.randn(1024, 1024, generator=gen)
        gflops = 2 * 1024**3 / _cpu_ms(lambda: a @ b) / 1e6  # one core, CPU time
        plain = torch.optim.Adam(model.parameters(), lr=1e-3)
        fused = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        return {
            "batch_size": batch_size,
            "threads": 1,
            "gather_batch": _cpu_ms(lambda: x[torch.arange(batch_size)]),
            "binarize_torch_bernoulli": _cpu_ms(lambda: torch.bernoulli(x, generator=gen)),
            "binarize_uniform_less_than_p": _cpu_ms(lambda: binarize(x, gen)),
            "forward_backward": _cpu_ms(forward_backward),
            "adam_for_loop": _cpu_ms(plain.step),
            "adam_fused": _cpu_ms(fused.step),
            **adam_subnormal_ms(model),
            "sgemm_gflops_one_core": gflops,
            "matmul_flop_limit": epoch_flops(model, batch_size) / (gflops * 1e9) * 1e3,
        }
    finally:
        torch.set_num_threads(old)


def _cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"cpu ({name}, {torch.get_num_threads()} threads)"
