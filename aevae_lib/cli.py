"""Command line: train, evaluate, benchmark and reproduce the book's models, printing JSON.

    python -m aevae_lib train --model vae --json            # the chapter-04 VAE, then its test NLL
    python -m aevae_lib train --model ae --save ae.pt --json
    python -m aevae_lib evaluate vae.pt --k 5000 --json     # any checkpoint written by train
    python -m aevae_lib bench --json                        # speed against pytorch/examples
    python -m aevae_lib reference --state ref.state --json  # the CPU reference run, resumable
    python -m aevae_lib reproduce --device cuda --json      # the GPU reference run

The defaults of ``train`` are the book's models (``zoo.ae_defaults()``, ``zoo.vae_defaults()``),
so a number printed in a chapter can be reproduced without a notebook. With ``--json`` the
standard output is exactly one JSON object; progress and messages go to standard error.

Used in: README.md, benchmarks/README.md, notebooks/08_evaluating_vaes.ipynb.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from . import zoo
from .bench.cpu_run import reference_defaults
from .checkpoint import load_checkpoint, save_checkpoint, train_seconds
from .data import fixed_binarization
from .evaluate import active_units, negative_elbo, reconstruct, sse_per_image, test_nll
from .objectives import bits_per_dim
from .runtime import get_device
from .train import SCHEDULES


def _say(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden takes sizes like 512,256, got {text!r}") from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aevae_lib", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, k_default):
        p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best)")
        p.add_argument("--k", type=int, default=k_default, help="importance samples for -log p(x)")
        p.add_argument("--n-test", type=int, default=None, help="first N test images (default all)")
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    p = sub.add_parser("train", help="train the book's AE or VAE (chapter 01 / 04 defaults)")
    p.add_argument("--model", choices=["ae", "vae"], required=True)
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--hidden", type=_hidden, help="hidden sizes, e.g. 512,256")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--n-train", type=int, help="first N training images (default all)")
    p.add_argument("--seed", type=int)
    p.add_argument("--save", type=Path, help="write the checkpoint here")
    p.add_argument("--cache", action="store_true", help="use (and fill) the book's model cache")
    common(p, 100)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint on the MNIST test set")
    p.add_argument("path", type=Path)
    common(p, 100)

    p = sub.add_parser("bench", help="seconds per epoch against the pytorch/examples pipeline")
    p.add_argument("--epochs", type=int, default=10, help="epochs for each side (default 10, as pytorch/examples)")
    p.add_argument("--no-sweep", action="store_true", help="skip the batch size / threads sweep")
    p.add_argument("--sweep-epochs", type=int, default=3, help="epochs per sweep setting (default 3)")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for the whole run (default: torch's, one per core)")
    p.add_argument("--json", action="store_true")

    d = reference_defaults()
    p = sub.add_parser(
        "reference",
        help="the CPU reference VAE against IWAE's 86.76 nats: long, resumable, by epochs",
    )
    p.add_argument("--state", type=Path, required=True,
                   help="state file: resumed when it exists, written every --save-every seconds")
    p.add_argument("--epochs", type=int, help=f"length of the schedule (default {d['epochs']})")
    p.add_argument("--until-epoch", type=int, help="stop after this epoch (resume later)")
    p.add_argument("--hidden", type=_hidden, help=f"hidden sizes (default {d['hidden']})")
    p.add_argument("--activation", choices=["tanh", "relu", "elu", "gelu"],
                   help=f"default {d['activation']}")
    p.add_argument("--latent-dim", type=int, help=f"default {d['latent_dim']}")
    p.add_argument("--batch-size", type=int, help=f"default {d['batch_size']}")
    p.add_argument("--lr", type=float, help=f"default {d['lr']}")
    p.add_argument("--schedule", choices=list(SCHEDULES), help=f"default {d['schedule']}")
    p.add_argument("--n-val", type=int, help=f"held-out training images (default {d['n_val']})")
    p.add_argument("--n-train", type=int, help="first N of the remaining images (default all)")
    p.add_argument("--eval-every", type=int, help=f"epochs between validations (default {d['eval_every']})")
    p.add_argument("--seed", type=int)
    p.add_argument("--save-every", type=float, default=300.0, help="seconds between state saves")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--export", type=Path, default=None,
                   help="write the best weights here (+ .sha256) when the call ends")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reproduce", help="the GPU reference run against IWAE's 86.76 nats")
    p.add_argument("--minutes", type=float, default=None, help="training budget (default 9)")
    p.add_argument("--hidden", type=_hidden)
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--n-val", type=int, help="training images held out to pick the best weights")
    p.add_argument("--seed", type=int)
    p.add_argument("--no-cuda-graphs", action="store_true")
    p.add_argument("--save", type=Path, default=Path("reference_vae.pt"))
    common(p, 5000)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {
        "train": cmd_train, "evaluate": cmd_evaluate, "bench": cmd_bench,
        "reference": cmd_reference, "reproduce": cmd_reproduce,
    }[args.command]
    try:
        result = command(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as err:
        _say(f"error: {err}")
        return 2
    if args.json:
        print(json.dumps(result, default=_jsonable))
    else:
        for key, value in result.items():
            if not isinstance(value, (dict, list)):
                print(f"{key:>24}: {value}")
    return 0


def _jsonable(value):
    if isinstance(value, (Path, torch.device)):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def _settings(args, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def cmd_train(args) -> dict:
    device = get_device(args.device, verbose=False)
    names = ["latent_dim", "hidden", "epochs", "batch_size", "lr", "n_train", "seed"]
    settings = _settings(args, names)
    defaults = zoo.ae_defaults() if args.model == "ae" else zoo.vae_defaults()
    config = zoo.resolve_settings(defaults, settings)  # the exact settings the zoo trains with
    config["kind"], config["device"] = args.model, device.type
    trainer = zoo.trained_ae if args.model == "ae" else zoo.trained_vae
    _say(f"training the book's {args.model.upper()} on {device}: {config}")
    start = time.perf_counter()
    model, history = trainer(device=device, use_cache=args.cache, progress=True, **settings)
    wall_s = time.perf_counter() - start
    result = {"model": args.model, "config": config, "train_s": train_seconds(history)}
    result["wall_s"] = wall_s
    result["s_per_epoch"] = result["train_s"] / len(history.get("seconds") or [1])
    result["final_train_loss"] = history["loss"][-1] if history.get("loss") else None
    if args.save:
        save_checkpoint(args.save, model, config, history)
        result["saved"] = str(args.save)
    result.update(_evaluate(model, config, args, device))
    return result


def cmd_evaluate(args) -> dict:
    device = get_device(args.device, verbose=False)
    model, config, history = load_checkpoint(args.path, device)
    result = {"path": str(args.path), "model": config["kind"], "config": config}
    result["train_s"] = train_seconds(history)
    result.update(_evaluate(model, config, args, device))
    return result


def _evaluate(model, config: dict, args, device) -> dict:
    """Test metrics: SSE per image (AE), or -ELBO and the k-sample bound (VAE)."""
    data = zoo.mnist_tensors(device)
    x_test = data["x_test"][: args.n_test] if args.n_test else data["x_test"]
    if config["kind"] == "ae":
        return {"test_sse_per_image": sse_per_image(x_test.cpu(), reconstruct(model, x_test)),
                "n_test": len(x_test)}
    binary = bool(config.get("binarize", False))
    if binary:  # the book's test set: the test images binarized once, with seed 0
        x_test = fixed_binarization(x_test, seed=0)
    start = time.perf_counter()
    elbo = negative_elbo(model, x_test)
    nll = test_nll(model, x_test, k=args.k, max_rows=200_000 if device.type == "cuda" else 50_000)
    return {
        "test_data": "binarized once (seed 0)" if binary else "grayscale",
        "n_test": len(x_test),
        "test_neg_elbo": elbo["neg_elbo"],
        "test_recon": elbo["recon"],
        "test_kl": elbo["kl"],
        "test_nll_iw": nll,
        "k": args.k,
        "bits_per_dim": bits_per_dim(nll),
        "active_units": active_units(model, x_test),
        "eval_s": time.perf_counter() - start,
    }


def cmd_bench(args) -> dict:
    from .bench.speed import run_bench

    _say("benchmark: ours, then the pytorch/examples replica, then the sweep (minutes)")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    return run_bench(
        epochs=args.epochs, sweep=not args.no_sweep, sweep_epochs=args.sweep_epochs,
        n_train=args.n_train,
    )


def cmd_reference(args) -> dict:
    from .bench import cpu_run

    names = ["epochs", "hidden", "activation", "latent_dim", "batch_size", "lr", "schedule",
             "n_val", "n_train", "eval_every", "seed"]
    settings = cpu_run.check_settings(_settings(args, names))  # before any work
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    state = cpu_run.run(settings, state_path=args.state, until_epoch=args.until_epoch,
                        save_every_s=args.save_every, progress=_say)
    result = cpu_run.summary(state)
    if args.export is not None:
        result["exported"] = str(cpu_run.export(state, args.export))
    return result


def cmd_reproduce(args) -> dict:
    from .bench.gpu_run import run_reproduce

    device = get_device(args.device, verbose=False)
    names = ["minutes", "hidden", "latent_dim", "batch_size", "lr", "n_val", "seed", "k", "n_test"]
    settings = _settings(args, names)
    settings["cuda_graphs"] = not args.no_cuda_graphs
    model, result = run_reproduce(device=device, progress=_say, **settings)
    config = {
        "kind": "vae", "latent_dim": model.latent_dim, "hidden": result["config"]["hidden"],
        "activation": result["config"]["activation"], "likelihood": "bernoulli",
        "learn_variance": False, "conv": False, "binarize": True, "device": device.type,
        "reproduce": result["config"],
    }
    history = {"seconds": result["train_s"], "reproduce": _plain(result)}
    save_checkpoint(args.save, model, config, history)
    result["saved"] = str(args.save)
    return result


def _plain(value):
    """A JSON round trip, so that the result stored in a checkpoint loads with weights_only."""
    return json.loads(json.dumps(value, default=_jsonable), parse_constant=lambda c: math.nan)
