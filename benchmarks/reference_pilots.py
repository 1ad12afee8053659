"""Short runs that chose the CPU reference run's architecture, batch size and schedule.

Each pilot trains with ``aevae_lib.bench.cpu_run`` (the code of the long run) for about the
same CPU time, ten minutes on one thread, so that a wider network gets fewer epochs, and
then measures the held-out validation images: negative ELBO, and the importance-weighted
estimate of -log p(x) with k = 100 on the first 1,000 of them.

    python benchmarks/reference_pilots.py --pilot iwae-tanh       # one pilot (one thread)
    python benchmarks/reference_pilots.py --combine               # -> results/reference_pilots.json

Run two pilots at a time on a 2-core machine; each writes results/reference_pilots/NAME.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from aevae_lib.bench import cpu_run
from aevae_lib.evaluate import test_nll

RESULTS = Path(__file__).resolve().parent / "results"

#: Epochs per pilot give each about ten minutes on one thread (3.7 s per epoch for the
#: 2x200 tanh network at batch 100, 8.6 s for 2x512 ReLU, 7.9 s for batch 20).
PILOTS = {
    "iwae-tanh": dict(
        hidden=[200, 200],
        activation="tanh",
        batch_size=100,
        lr=1e-3,
        schedule="stable-decay",
        epochs=150,
    ),
    "wide-relu": dict(
        hidden=[512, 512],
        activation="relu",
        batch_size=100,
        lr=1e-3,
        schedule="stable-decay",
        epochs=65,
    ),
    "iwae-tanh-cosine": dict(
        hidden=[200, 200], activation="tanh", batch_size=100, lr=1e-3, schedule="cosine", epochs=150
    ),
    # stopped (SIGTERM, the state saved) after 15 epochs, all at the full rate: compared with
    # batch 100 at the same CPU time in combine(); its 70 epochs would have taken 45 minutes
    # on the busy machine
    "iwae-tanh-batch20": dict(
        hidden=[200, 200],
        activation="tanh",
        batch_size=20,
        lr=1e-3,
        schedule="stable-decay",
        epochs=70,
    ),
}


def run_pilot(name: str) -> dict:
    settings = {**PILOTS[name], "latent_dim": 50, "eval_every": 5}
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        state = cpu_run.run(
            settings,
            state_path=Path(tmp) / "pilot.state",
            progress=lambda line: print(f"[{name}] {line}", file=sys.stderr),
        )
    config = cpu_run.check_settings(settings)
    _, x_val = cpu_run.split(config)
    model = cpu_run.build_model(config)
    model.load_state_dict(state["model"])  # the final weights: the schedule has decayed to 0
    start = time.perf_counter()
    nll = test_nll(model.eval(), x_val[:1000], k=100)
    summary = cpu_run.summary(state)
    return {
        "pilot": name,
        "settings": settings,
        "epochs": state["epoch"],
        "train_s": state["train_s"],
        "cpu_s": state["cpu_s"],
        "median_s_per_epoch": summary["median_s_per_epoch"],
        "final_val_neg_elbo": state["history"]["val_neg_elbo"][-1],
        "val_nll_iw_k100_first1000": nll,
        "iw_eval_s": time.perf_counter() - start,
        "val_curve": summary["val_curve"],
        "machine": summary["machine"],
    }


def _val_at_cpu_seconds(run: dict, seconds: float) -> float:
    """Validation -ELBO of ``run`` at the evaluation closest to ``seconds`` of CPU time (the
    run's CPU time per epoch is taken as constant)."""
    per_epoch = run["cpu_s"] / run["epochs"]
    curve = run["val_curve"]
    i = min(range(len(curve["epoch"])), key=lambda j: abs(curve["epoch"][j] * per_epoch - seconds))
    return curve["neg_elbo"][i]


def combine(runs: dict) -> dict:
    """The comparisons the choice rests on, each at equal cost."""
    tanh, relu, cosine, b20 = (
        runs[k] for k in ("iwae-tanh", "wide-relu", "iwae-tanh-cosine", "iwae-tanh-batch20")
    )

    def final(run):
        return {
            "val_neg_elbo": run["final_val_neg_elbo"],
            "val_nll_iw_k100": run["val_nll_iw_k100_first1000"],
            "cpu_s": run["cpu_s"],
            "epochs": run["epochs"],
        }

    b20_cpu = b20["cpu_s"]
    return {
        "pilots": runs,
        "architecture_at_equal_cpu": {
            "2x200 tanh": final(tanh),
            "2x512 relu": final(relu),
            "relu_minus_tanh_val_nll": relu["val_nll_iw_k100_first1000"]
            - tanh["val_nll_iw_k100_first1000"],
        },
        "schedule_at_equal_epochs": {
            "stable-decay": final(tanh),
            "cosine": final(cosine),
            "cosine_minus_stable_decay_val_nll": cosine["val_nll_iw_k100_first1000"]
            - tanh["val_nll_iw_k100_first1000"],
        },
        # batch 20 was stopped after 15 of its 70 epochs (still at the full rate); compare it
        # with batch 100's curve at the same CPU time, which is also at the full rate there
        "batch_at_equal_cpu_full_rate": {
            "cpu_s": b20_cpu,
            "batch 20 val -ELBO": b20["val_curve"]["neg_elbo"][-1],
            "batch 100 val -ELBO": _val_at_cpu_seconds(tanh, b20_cpu),
        },
        "chosen": {
            "hidden": [200, 200],
            "activation": "tanh",
            "latent_dim": 50,
            "batch_size": 100,
            "lr": 1e-3,
            "schedule": "stable-decay",
            "why": "batch 100 and stable-decay win their comparisons outright. The wider ReLU "
            "network led the IWAE paper's 2x200 tanh network by about half a nat after "
            "the same CPU time, less than the schedule choice is worth; the long run "
            "keeps the paper's own network, so that its number compares like for like "
            "with the paper's 86.76 nats, and a network 3.3 times larger per image "
            "would get 3.3 times fewer epochs of the same CPU budget.",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pilot", choices=sorted(PILOTS))
    parser.add_argument("--combine", action="store_true")
    args = parser.parse_args()
    folder = RESULTS / "reference_pilots"
    if args.combine:
        out = combine({p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))})
        (RESULTS / "reference_pilots.json").write_text(json.dumps(out, indent=1) + "\n")
        print(json.dumps({k: v for k, v in out.items() if k != "pilots"}, indent=1))
        return
    if args.pilot is None:
        parser.error("give --pilot NAME or --combine")
    folder.mkdir(parents=True, exist_ok=True)
    result = run_pilot(args.pilot)
    (folder / f"{args.pilot}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "val_curve"}))


if __name__ == "__main__":
    main()
