"""How fast the book's explorers answer in a browser: input event to repainted image, per explorer.

    python benchmarks/explorer_latency.py            # the book's trained models (zoo; trains
                                                     # what the cache lacks: minutes)
    python benchmarks/explorer_latency.py --fast     # fast-mode models (AEVAE_FAST=1): checks
                                                     # the script in a minute
    python benchmarks/explorer_latency.py --random   # untrained models of the same sizes

Builds the explorers of chapters 02, 03, 05 and 09 (aevae_lib/explorers) on the models those
chapters train, writes one page per chapter as the book would show it (vendored scripts, no
network), and drives each explorer in headless Chromium with Playwright's real mouse and
keyboard: a drag across the 2-D VAE's latent plane (one pointermove per step) and arrow keys
on its sliders, arrow keys on t and clicks in the gallery of the interpolation explorer, keys
on the noise level of the denoising explorer, keys on beta and the "new samples" button. The
page records, per input event (``performance.now()``, see explorers/static/explorers.js):

- ``compute_ms``: the page's own work in the event handler (decode, draw the canvases);
- ``event_to_drawn_ms``: from the event's timestamp to the drawn image;
- ``event_to_frame_ms``: from the event's timestamp to the next animation frame, when the
  browser puts the new image on the screen (includes waiting for that frame: up to 16.7 ms
  at 60 Hz).

It also records, per explorer, the model data it ships (bytes), the encodings the exporter
chose, the exporter's largest error against PyTorch, and the largest difference between the
pixels drawn after each probe (the events check_book.py replays) and PyTorch's output.
Writes benchmarks/results/explorer_latency.json (or --out). The README quotes the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))


def book_explorers(kind: str) -> dict[str, dict]:
    """{chapter: {name: explorer}} on the chapters' models (``kind``: zoo or random)."""
    import torch

    from aevae_lib import explorers as E
    from aevae_lib.models import VAE, Autoencoder

    if kind == "random":
        torch.manual_seed(0)
        x = torch.rand(2000, 784, generator=torch.Generator().manual_seed(0))
        y = torch.arange(2000) % 10
        x_bin = (x > 0.5).float()
        ae = Autoencoder(latent_dim=30, hidden=[512, 256])
        dae = Autoencoder(latent_dim=30, hidden=[512, 256])
        vae = VAE(latent_dim=20, hidden=[400])
        vae2 = VAE(latent_dim=2, hidden=[400])
        sweep = {b: VAE(latent_dim=20, hidden=[400]) for b in (0.5, 1.0, 2.0, 4.0, 8.0)}
    else:
        from aevae_lib.data import fixed_binarization
        from aevae_lib.zoo import mnist_tensors, trained_ae, trained_vae

        data = mnist_tensors()
        x, y = data["x_test"], data["y_test"]
        x_bin = fixed_binarization(x)
        ae, _ = trained_ae(progress=False)  # chapters 01 and 03
        dae, _ = trained_ae(noise_std=0.5, mask_fraction=0.5, progress=False)  # chapter 02
        vae, _ = trained_vae(progress=False)  # chapter 04
        vae2, _ = trained_vae(latent_dim=2, epochs=5, progress=False)  # chapter 05
        short = dict(n_train=10_000, epochs=8, progress=False)  # chapter 09's sweep
        sweep = {b: trained_vae(beta=b, **short)[0] for b in (0.5, 1.0, 2.0, 4.0, 8.0)}
    return {
        "02": {"denoising": E.denoising_explorer(dae, x, noise_std=0.5)},
        "03": {"interpolation (AE)": E.interpolation_explorer(ae, x, index_a=3, index_b=2)},
        "05": {
            "latent": E.latent_explorer(vae2, x_bin, y),
            "interpolation (AE and VAE)": E.interpolation_explorer(
                {"autoencoder (chapter 1)": ae, "VAE (chapter 4)": vae},
                x_bin,
                index_a=3,
                index_b=10,
            ),
        },
        "09": {"beta": E.beta_explorer(sweep, x_bin[:2000])},
    }


def _stats(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "p90": round(values[int(0.9 * (len(values) - 1))], 3),
        "max": round(values[-1], 3),
    }


def _measure(page, root, action) -> dict:
    """Run ``action`` (which sends input events) and collect the page's timings for them."""
    root.evaluate("el => { el.__aevae.compute.length = 0; el.__aevae.latency.length = 0;"
                  " el.__aevae.frames.length = 0; }")  # fmt: skip
    action()
    page.wait_for_timeout(200)  # the last animation frames
    got = root.evaluate("el => [el.__aevae.compute, el.__aevae.latency, el.__aevae.frames]")
    return {
        "compute_ms": _stats(got[0]),
        "event_to_drawn_ms": _stats(got[1]),
        "event_to_frame_ms": _stats(got[2]),
    }


def _keys(page, root, control: str, keys: list[str]):
    def go():
        from check_book import _EXPLORER_FOCUS_JS

        root.locator(f'[data-control="{control}"]').first.evaluate(_EXPLORER_FOCUS_JS)
        for key in keys:
            page.keyboard.press(key)

    return go


def _clicks(page, root, controls: list[str]):
    def go():
        for name in controls:
            root.locator(f'[data-control="{name}"]').first.click()

    return go


def _drag(page, root, steps: int = 240):
    import math

    def go():
        plane = root.locator('[data-control="plane"]')
        plane.scroll_into_view_if_needed()
        box = plane.bounding_box()
        cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.4
        page.mouse.move(cx + r, cy)
        page.mouse.down()
        for k in range(1, steps + 1):  # twice round a circle: every step a new code
            a = 4 * math.pi * k / steps
            page.mouse.move(cx + r * math.cos(a) * (1 - k / (2 * steps)), cy + r * math.sin(a))
        page.mouse.up()

    return go


def _probe_deviation(page, root) -> float:
    """Replay the explorer's probes; the largest |drawn - PyTorch| over their images."""
    import base64
    import struct

    from check_book import _EXPLORER_READ_JS, _replay

    worst = 0.0
    for probe in root.evaluate("el => el.__aevae.probes"):
        _replay(page, root, probe["steps"])
        shown = root.evaluate(_EXPLORER_READ_JS, [e["image"] for e in probe["expect"]])
        for want, got in zip(probe["expect"], shown, strict=True):
            if got is None or got["label"] != want["label"]:
                raise RuntimeError(f"{probe['name']}: the explorer did not respond")
            raw = base64.b64decode(want["pixels"])
            ref = struct.unpack(f"<{len(raw) // 2}e", raw)
            worst = max(worst, max(abs(a - b) for a, b in zip(ref, got["ink"], strict=True)))
    return worst


def actions(name: str, page, root) -> dict:
    """{what: action} for one explorer."""
    if name == "latent":
        return {
            "drag on the latent plane (pointermove)": _drag(page, root),
            "arrow keys on the z1 slider": _keys(page, root, "z1", ["ArrowRight"] * 30 + ["ArrowLeft"] * 30),
        }  # fmt: skip
    if name.startswith("interpolation"):
        gallery = root.evaluate(
            "el => Array.from(el.querySelectorAll('[data-control^=\"a-\"]')).map(e => e.dataset.control)"
        )
        return {
            "arrow keys on t": _keys(page, root, "t", ["ArrowLeft"] * 10 + ["ArrowRight"] * 20),
            "clicks in the gallery (new image A: whole paths)": _clicks(
                page, root, gallery[:8] * 2
            ),
        }
    if name == "denoising":
        return {
            "arrow keys on the noise level": _keys(
                page, root, "noise", ["ArrowRight", "ArrowLeft"] * 15
            )
        }
    return {
        "arrow keys on beta": _keys(page, root, "beta", ["ArrowRight"] * 20),
        "the new-samples button": _clicks(page, root, ["resample"] * 20),
    }  # fmt: skip


def chromium_version(path: str) -> str:
    try:
        return subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="fast-mode models (AEVAE_FAST=1)")
    parser.add_argument("--random", action="store_true", help="untrained models, same sizes")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/explorer_latency.json"
    )
    args = parser.parse_args(argv)
    if args.fast:
        os.environ["AEVAE_FAST"] = "1"
    import check_book
    from playwright.sync_api import sync_playwright

    from aevae_lib import explorers as E

    chromium = check_book.find_chromium()
    vendor = REPO / "_vendor" / "site" / "vendor"
    if chromium is None or not (vendor / "anywidget" / "index.js").is_file():
        print("explorer_latency: needs Chromium and tools/vendor_js.sh's vendor/", file=sys.stderr)
        return 2
    kind = "random" if args.random else "zoo"
    start = time.perf_counter()
    chapters = book_explorers(kind)
    build_s = time.perf_counter() - start
    result = {
        "what": "explorers of aevae_lib/explorers in headless Chromium: ms per input event",
        "models": kind + (" (fast mode)" if args.fast and kind == "zoo" else ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "chromium": chromium_version(chromium),
                    "load_average_1_5_15_min_at_start": [round(v, 2) for v in os.getloadavg()]},
        "tolerance": E.PIXEL_TOLERANCE,
        "page_budget_bytes": E.PAGE_BUDGET,
        "seconds_to_build_explorers": round(build_s, 1),
        "pages": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        site = Path(tmp)
        (site / "vendor").symlink_to(vendor, target_is_directory=True)
        browser = pw.chromium.launch(executable_path=chromium, args=check_book.CHROMIUM_ARGS)
        try:
            with check_book.serve(site) as base:
                for chapter, widgets in chapters.items():
                    html = E.page_html(widgets.values(), title=f"chapter {chapter}")
                    (site / f"{chapter}.html").write_text(html, encoding="utf-8")
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    errors = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                    page.goto(base + f"{chapter}.html", wait_until="load")
                    page.wait_for_selector("[data-aevae-explorer]", timeout=30_000)
                    entry = {"html_bytes": len(html.encode()), "model_bytes": 0, "explorers": {}}
                    for i, (name, w) in enumerate(widgets.items()):
                        root = page.locator("[data-aevae-explorer]").nth(i)
                        # the probes first: they start from the explorer's first state
                        deviation = round(_probe_deviation(page, root), 4)
                        timings = {what: _measure(page, root, act)
                                   for what, act in actions(name, page, root).items()}  # fmt: skip
                        entry["explorers"][name] = {
                            "model_bytes": w.model_bytes,
                            "data_bytes": w.data_bytes,
                            "encodings": {k: e.encodings for k, e in w.exports.items()},
                            "export_max_error": max(e.max_error for e in w.exports.values())
                            if w.exports
                            else None,
                            "probe_max_pixel_difference": deviation,
                            "decoders_shipped": getattr(w, "shipped", True),
                            "timings": timings,
                        }
                        entry["model_bytes"] += w.model_bytes
                    entry["page_errors"] = errors
                    result["pages"][chapter] = entry
                    page.close()
                    print(f"chapter {chapter}: done", file=sys.stderr)
        finally:
            browser.close()
    result["machine"]["load_average_1_5_15_min_at_end"] = [round(v, 2) for v in os.getloadavg()]
    summary = {}
    for chapter, entry in result["pages"].items():
        for name, e in entry["explorers"].items():
            first = next(iter(e["timings"].values()))
            summary[f"{chapter} {name}"] = {
                "event_to_drawn_median_ms": first["event_to_drawn_ms"]["median"],
                "event_to_frame_median_ms": first["event_to_frame_ms"]["median"],
                "compute_median_ms": first["compute_ms"]["median"],
                "input": next(iter(e["timings"])),
            }
    result["summary"] = summary
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
