"""Assemble benchmarks/results/reference_cpu_run.json from the CPU reference run's own outputs.

    python -m aevae_lib reference --state runs/reference.state --epochs 2000 --threads 1 \
        --export aevae_lib/weights/reference_vae.pt --json > runs/reference.json
    python -m aevae_lib evaluate aevae_lib/weights/reference_vae.pt --k 500 --json > runs/k500.json
    python -m aevae_lib evaluate aevae_lib/weights/reference_vae.pt --k 5000 --json > runs/k5000.json
    python benchmarks/reference_cpu_result.py runs/reference.json runs/k500.json [runs/k5000.json]

Nothing is measured here: the run's JSON (settings, epochs, wall and CPU time, machine, learning
curves) and each evaluation's JSON are copied side by side, with the literature's targets and
the distance to them, and the SHA-256 of the weights they describe. tests/test_benchmark_results.py checks the result against the weights.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "reference_cpu_run.json"
#: Targets on all 10,000 test images (issue 17): the IWAE paper's VAE with k = 5000, and a
#: looser bar for the cheaper k = 500 estimate.
TARGETS = {500: 87.2, 5000: 86.76}
EVAL_KEYS = (
    "test_nll_iw",
    "k",
    "n_test",
    "test_neg_elbo",
    "test_recon",
    "test_kl",
    "bits_per_dim",
    "active_units",
    "eval_s",
    "test_data",
)


def main(run_path: str, *eval_paths: str) -> dict:
    run = json.loads(Path(run_path).read_text())
    evaluations = []
    for path in eval_paths:
        result = json.loads(Path(path).read_text())
        row = {key: result[key] for key in EVAL_KEYS if key in result}
        target = TARGETS.get(row["k"])
        if target is not None:
            row["target"] = target
            row["above_target_by"] = round(row["test_nll_iw"] - target, 3)
            row["meets_target"] = row["test_nll_iw"] <= target
        evaluations.append(row)
    weights = Path(run["exported"])
    sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()  # which weights these numbers are
    out = {"run": run, "weights_sha256": sha256, "evaluations": evaluations}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    summary = main(*sys.argv[1:])
    print(
        json.dumps(
            [
                {k: e[k] for k in ("k", "test_nll_iw", "meets_target") if k in e}
                for e in summary["evaluations"]
            ]
        )
    )
