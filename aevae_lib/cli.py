"""Command line: train, evaluate, benchmark and reproduce the book's models, printing JSON.

    python -m aevae_lib train --model vae --json            # the chapter-04 VAE, then its test NLL
    python -m aevae_lib train --model ae --save ae.pt --json
    python -m aevae_lib evaluate vae.pt --k 5000 --json     # any checkpoint written by train
    python -m aevae_lib bench --json                        # speed against pytorch/examples
    python -m aevae_lib reference --state ref.state --json  # the CPU reference run, resumable
    python -m aevae_lib reproduce --device cuda --json      # the GPU reference run

The defaults of ``train`` are the book's models (``configs.AEConfig``, ``configs.VAEConfig``),
so a number printed in a chapter can be reproduced without a notebook. Every argument is
checked before any work starts, and an error is one line on standard error (exit status 2).
With ``--json`` the standard output is exactly one JSON object (missing values are null,
never NaN); progress and messages go to standard error.

Owns: the argument parser and its checks, the ``train``/``evaluate`` commands and the test
metrics they print; ``bench``, ``reference`` and ``reproduce`` call ``aevae_lib.bench``.

Used in: README.md, benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from . import zoo
from .checkpoint import load_checkpoint, save_checkpoint, train_seconds
from .configs import SCHEDULES, AEConfig, VAEConfig, from_settings
from .data import DataError, fixed_binarization, mnist_tensors
from .evaluate import active_units, negative_elbo, reconstruct, sse_per_image, test_nll
from .objectives import bits_per_dim
from .runtime import get_device

#: The largest k the command line accepts: at 10,000 test images that is already 10^10 decoder
#: passes, days on a CPU.
MAX_K = 1_000_000

#: Evaluations expected to take longer than this many seconds announce their cost first.
ANNOUNCE_S = 10.0

N_TEST = 10_000


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help shows every default and keeps the description's line breaks."""


def _say(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def _int_at_least(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"between {low:,} and {high:,}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes layer sizes like 512,256, got {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive, like 512,256, got {text!r}")
    return sizes


def _device(text: str) -> str:
    if text in ("cpu", "cuda", "mps") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise argparse.ArgumentTypeError(f"must be cpu, cuda, cuda:N or mps, got {text!r}")


def _lower(text: str) -> str:
    return text.lower()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aevae_lib", description=__doc__.split("\n\n")[0], formatter_class=_Formatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, help_text):
        return sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=_Formatter
        )

    def evaluation(p, k_default):
        p.add_argument(
            "--device",
            type=_device,
            default=None,
            help="cpu, cuda, cuda:N or mps (default: the best available)",
        )
        p.add_argument(
            "--k",
            type=_int_at_least(1, MAX_K),
            default=k_default,
            help="importance samples per image for the estimate of -log p(x)",
        )
        p.add_argument(
            "--n-test",
            type=_int_at_least(1, N_TEST),
            default=N_TEST,
            help="evaluate the first N test images",
        )
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    p = command("train", "train the book's AE or VAE (the settings of chapters 01 and 04)")
    p.add_argument("--model", type=_lower, choices=["ae", "vae"], required=True)
    p.add_argument("--latent-dim", type=_int_at_least(1), help="code size d (default: the book's)")
    p.add_argument(
        "--hidden", type=_hidden, help="hidden sizes, e.g. 512,256 (default: the book's)"
    )
    p.add_argument("--epochs", type=_int_at_least(1), help="default: the book's")
    p.add_argument("--batch-size", type=_int_at_least(1), help="default: the book's")
    p.add_argument("--lr", type=_positive_float, help="default: the book's")
    p.add_argument(
        "--n-train",
        type=_int_at_least(1, 60_000),
        help="train on the first N training images (default: all)",
    )
    p.add_argument("--seed", type=_int_at_least(0), help="default: 0")
    p.add_argument("--save", type=Path, help="write the trained model's checkpoint here")
    p.add_argument("--cache", action="store_true", help="use (and fill) the book's model cache")
    evaluation(p, 100)

    p = command("evaluate", "evaluate a checkpoint on the MNIST test set")
    p.add_argument("path", type=Path, help="a checkpoint written by train, reference or the cache")
    evaluation(p, 100)

    p = command("bench", "seconds per epoch against the pytorch/examples pipeline")
    p.add_argument(
        "--epochs",
        type=_int_at_least(1),
        default=10,
        help="epochs for each side (10, as pytorch/examples)",
    )
    p.add_argument("--no-sweep", action="store_true", help="skip the batch size / threads sweep")
    p.add_argument(
        "--sweep-epochs", type=_int_at_least(1), default=3, help="epochs per sweep setting"
    )
    p.add_argument(
        "--n-train",
        type=_int_at_least(1, 60_000),
        default=None,
        help="first N training images (default: all)",
    )
    p.add_argument(
        "--threads",
        type=_int_at_least(1),
        default=None,
        help="torch threads for the whole run (default: torch's, one per core)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    from .bench.cpu_run import reference_defaults

    d = reference_defaults()
    p = command(
        "reference",
        "the CPU reference VAE against IWAE's 86.76 nats: long, resumable, scheduled by epochs",
    )
    p.add_argument(
        "--state",
        type=Path,
        required=True,
        help="state file: resumed when it exists, written every --save-every seconds",
    )
    p.add_argument(
        "--epochs", type=_int_at_least(1), default=d["epochs"], help="length of the schedule"
    )
    p.add_argument(
        "--until-epoch", type=_int_at_least(1), help="stop after this epoch (resume later)"
    )
    p.add_argument("--hidden", type=_hidden, default=d["hidden"], help="hidden sizes")
    p.add_argument(
        "--activation",
        type=_lower,
        choices=["tanh", "relu", "elu", "gelu"],
        default=d["activation"],
    )
    p.add_argument("--latent-dim", type=_int_at_least(1), default=d["latent_dim"])
    p.add_argument("--batch-size", type=_int_at_least(1), default=d["batch_size"])
    p.add_argument("--lr", type=_positive_float, default=d["lr"])
    p.add_argument("--schedule", choices=list(SCHEDULES), default=d["schedule"])
    p.add_argument(
        "--n-val",
        type=_int_at_least(1, 59_999),
        default=d["n_val"],
        help="training images held out to pick the best weights",
    )
    p.add_argument(
        "--n-train",
        type=_int_at_least(1),
        default=d["n_train"],
        help="first N of the remaining images (default: all)",
    )
    p.add_argument(
        "--eval-every",
        type=_int_at_least(1),
        default=d["eval_every"],
        help="epochs between validations",
    )
    p.add_argument("--seed", type=_int_at_least(0), default=d["seed"])
    p.add_argument(
        "--save-every", type=_positive_float, default=300.0, help="seconds between state saves"
    )
    p.add_argument(
        "--threads", type=_int_at_least(1), default=None, help="torch threads (default: torch's)"
    )
    p.add_argument(
        "--export",
        type=Path,
        default=None,
        help="write the best weights here (and a .sha256 beside them) at the end",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    p = command("reproduce", "the GPU reference run against IWAE's 86.76 nats (wall-clock budget)")
    p.add_argument("--minutes", type=_positive_float, default=9.0, help="training budget")
    p.add_argument("--hidden", type=_hidden, default=[512, 512])
    p.add_argument("--latent-dim", type=_int_at_least(1), default=32)
    p.add_argument("--batch-size", type=_int_at_least(1), default=128)
    p.add_argument("--lr", type=_positive_float, default=1e-3)
    p.add_argument(
        "--n-val",
        type=_int_at_least(1, 59_999),
        default=5000,
        help="training images held out to pick the best weights",
    )
    p.add_argument("--seed", type=_int_at_least(0), default=0)
    p.add_argument("--no-cuda-graphs", action="store_true")
    p.add_argument(
        "--save", type=Path, default=Path("reference_vae.pt"), help="write the checkpoint here"
    )
    evaluation(p, 5000)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "bench": cmd_bench,
        "reference": cmd_reference,
        "reproduce": cmd_reproduce,
    }[args.command]
    try:
        result = command(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, OSError, DataError) as err:
        _say(f"error: {_one_line(err)}")
        return 2
    if args.json:
        print(json.dumps(_finite(result), allow_nan=False, default=_jsonable))
    else:
        for key, value in result.items():
            if not isinstance(value, (dict, list)):
                print(f"{key:>24}: {value}")
    return 0


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None:
        return f"{err.strerror or type(err).__name__}: {err.filename}"
    return " ".join(str(err).split())


def _finite(value):
    """``value`` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _jsonable(value):
    if isinstance(value, (Path, torch.device)):
        return str(value)
    if isinstance(value, torch.Tensor):
        return _finite(value.tolist())
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def _settings(args, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _check_writable(path: Path) -> None:
    """Fail now, in one line, if a checkpoint cannot be written at ``path`` later."""
    if path.is_dir():
        raise ValueError(f"--save {path} is a folder; give a file name, e.g. {path / 'model.pt'}")
    folder = path.parent
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"--save {path}: {parent} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".aevae-write-test-"):
            pass
    except OSError as err:
        raise ValueError(f"--save {path}: cannot write in {folder} ({err.strerror})") from None


def cmd_train(args) -> dict:
    device = get_device(args.device, verbose=False)
    names = ["latent_dim", "hidden", "epochs", "batch_size", "lr", "n_train", "seed"]
    settings = _settings(args, names)
    cls = AEConfig if args.model == "ae" else VAEConfig
    from_settings(cls, device.type, **settings)  # every setting checked before any work
    if args.save is not None:
        _check_writable(args.save)
    trainer = zoo.trained_ae if args.model == "ae" else zoo.trained_vae
    name = "autoencoder" if args.model == "ae" else "VAE"
    _say(f"training the book's {name} on {device}")
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the zoo's messages are not the result
        model, history = trainer(device=device, use_cache=args.cache, progress=True, **settings)
    wall_s = time.perf_counter() - start
    config = model.config
    result = {
        "model": args.model,
        "config": config.to_dict(),
        "train_s": train_seconds(history),
        "wall_s": wall_s,
    }
    seconds = history.get("seconds") or []
    result["s_per_epoch"] = sum(seconds) / len(seconds) if seconds else None
    result["final_train_loss"] = history["loss"][-1] if history.get("loss") else None
    if args.save is not None:
        save_checkpoint(args.save, model, config, history)
        result["saved"] = str(args.save)
    else:
        _say(
            "the trained model is not saved; add --save model.pt to keep it (or --cache to use "
            "the book's model cache)"
        )
    result.update(_evaluate(model, config.kind, getattr(config, "binarize", False), args, device))
    return result


def cmd_evaluate(args) -> dict:
    device = get_device(args.device, verbose=False)
    model, config, history = load_checkpoint(args.path, device)
    if config.kind == "judge":
        raise ValueError(f"{args.path} holds the judge classifier; evaluate takes an AE or a VAE")
    result = {
        "path": str(args.path),
        "model": config.kind,
        "config": config.to_dict(),
        "train_s": train_seconds(history),
    }
    result.update(_evaluate(model, config.kind, getattr(config, "binarize", False), args, device))
    return result


def _evaluate(model, kind: str, binary: bool, args, device) -> dict:
    """Test metrics: SSE per image (AE), or -ELBO and the k-sample bound (VAE)."""
    x_test = mnist_tensors(device)["x_test"][: args.n_test]
    if kind == "ae":
        return {
            "test_sse_per_image": sse_per_image(x_test, reconstruct(model, x_test).to(device)),
            "n_test": len(x_test),
        }
    if binary:  # the book's test set: the test images binarized once, with seed 0
        x_test = fixed_binarization(x_test, seed=0)
    max_rows = 200_000 if device.type == "cuda" else 50_000
    _announce_cost(model, x_test, args.k, max_rows)
    start = time.perf_counter()
    elbo = negative_elbo(model, x_test)
    nll = test_nll(model, x_test, k=args.k, max_rows=max_rows)
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


def _announce_cost(model, x_test: torch.Tensor, k: int, max_rows: int) -> None:
    """Time the estimator on a few images and say how long the whole evaluation will take."""
    probe_k = min(k, 500)
    probe = x_test[: max(1, min(len(x_test), 20_000 // probe_k))]
    start = time.perf_counter()
    test_nll(model, probe, k=probe_k, max_rows=max_rows)
    per_sample = (time.perf_counter() - start) / (len(probe) * probe_k)
    seconds = per_sample * len(x_test) * k
    if seconds > ANNOUNCE_S:
        _say(
            f"estimating -log p(x) with k = {k:,} on {len(x_test):,} images: about "
            f"{_duration(seconds)} on this machine (timed on {len(probe)} images)"
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def cmd_bench(args) -> dict:
    from .bench.speed import run_bench

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    _say("benchmark: ours, then the pytorch/examples replica, then the sweep (minutes)")
    return run_bench(
        epochs=args.epochs,
        sweep=not args.no_sweep,
        sweep_epochs=args.sweep_epochs,
        n_train=args.n_train,
    )


def cmd_reference(args) -> dict:
    from .bench import cpu_run

    names = [
        "epochs",
        "hidden",
        "activation",
        "latent_dim",
        "batch_size",
        "lr",
        "schedule",
        "n_val",
        "n_train",
        "eval_every",
        "seed",
    ]
    settings = cpu_run.check_settings(_settings(args, names))  # before any work
    if args.export is not None:
        _check_writable(args.export)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    state = cpu_run.run(
        settings,
        state_path=args.state,
        until_epoch=args.until_epoch,
        save_every_s=args.save_every,
        progress=_say,
    )
    result = cpu_run.summary(state)
    if args.export is not None:
        result["exported"] = str(cpu_run.export(state, args.export))
    return result


def cmd_reproduce(args) -> dict:
    from .bench.gpu_run import run_reproduce

    device = get_device(args.device, verbose=False)
    _check_writable(args.save)
    names = ["minutes", "hidden", "latent_dim", "batch_size", "lr", "n_val", "seed", "k", "n_test"]
    settings = _settings(args, names)
    settings["cuda_graphs"] = not args.no_cuda_graphs
    model, result = run_reproduce(device=device, progress=_say, **settings)
    history = {"seconds": result["train_s"], "reproduce": _finite(_plain(result))}
    save_checkpoint(args.save, model, model.config, history)
    result["saved"] = str(args.save)
    return result


def _plain(value):
    """A JSON round trip, so that the result stored in a checkpoint loads with weights_only."""
    return json.loads(json.dumps(value, default=_jsonable), parse_constant=lambda c: math.nan)
