"""The explorers in headless Chromium, offline: they respond to the mouse and the keyboard, and
the pixels they draw are PyTorch's (within 0.02), from file:// and over http.

A page holds all four explorers on small random models (no MNIST); it loads the vendored
require.js, embed manager and anywidget (tools/vendor_js.sh), as the book does. Every request
that leaves the page's own origin is blocked and fails the test. Needs Chromium and the
vendored JavaScript; skipped without them. One browser for the module: some seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import check_book  # noqa: E402

from aevae_lib import explorers as E  # noqa: E402
from aevae_lib.models import VAE, Autoencoder  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "_vendor" / "site" / "vendor"
NEEDED = ("requirejs/require.js", "jupyter-widgets/embed-amd.js", "anywidget/index.js")


def _spread(model: nn.Module, gain: float = 3.0) -> nn.Module:
    with torch.no_grad():
        [m for m in model.decoder if isinstance(m, nn.Linear)][-1].weight.mul_(gain)
    return model


def make_explorers() -> dict:
    torch.manual_seed(0)
    x = torch.rand(16, 784, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(16) % 10
    vae2 = _spread(VAE(latent_dim=2, hidden=(48,)))
    vae = _spread(VAE(latent_dim=6, hidden=(40,)))
    ae = _spread(Autoencoder(latent_dim=5, hidden=(48, 24)))
    betas = {b: _spread(VAE(latent_dim=4, hidden=(24,))) for b in (0.5, 1.0, 4.0)}
    return {
        "latent": E.latent_explorer(vae2, x, labels),
        "interpolation": E.interpolation_explorer(
            {"autoencoder": ae, "VAE": vae}, x, index_a=3, index_b=2
        ),
        "denoising": E.denoising_explorer(ae, x, n=5),
        "beta": E.beta_explorer(betas, x, n=6),
    }


@pytest.fixture(scope="module")
def chromium():
    pytest.importorskip("playwright")
    path = check_book.find_chromium()
    if path is None:
        pytest.skip("Chromium not found (apt-get install chromium)")
    missing = [p for p in NEEDED if not (VENDOR / p).is_file()]
    if missing:
        pytest.skip(f"vendored JavaScript missing ({missing}): run tools/vendor_js.sh")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder with vendor/ (symlinked) and index.html holding the four explorers."""
    root = tmp_path_factory.mktemp("explorers")
    (root / "vendor").symlink_to(VENDOR, target_is_directory=True)
    widgets = make_explorers()
    (root / "index.html").write_text(E.page_html(widgets.values()), encoding="utf-8")
    return root, widgets


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=check_book.CHROMIUM_ARGS)
        yield b
        b.close()


class Tab:
    """A page loaded with no network: problems collects errors and blocked requests."""

    def __init__(self, browser, url: str, origin: str):
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on(
            "console",
            lambda m: m.type == "error" and self.problems.append(f"console: {m.text[:200]}"),
        )

        def only_local(route):
            if route.request.url.startswith((origin, "data:", "blob:")):
                return route.continue_()
            self.problems.append(f"request outside the page: {route.request.url}")
            return route.abort()

        self.page.route("**/*", only_local)
        self.page.goto(url, wait_until="load")
        self.page.wait_for_selector("[data-aevae-explorer]", timeout=15_000)

    def root(self, kind: str):
        return self.page.locator(f'[data-aevae-explorer="{kind}"]')

    def state(self, kind: str) -> dict:
        return json.loads(self.root(kind).get_attribute("data-state"))

    def shown(self, kind: str, names: list[str]) -> dict[str, dict]:
        got = self.root(kind).evaluate(check_book._EXPLORER_READ_JS, names)
        return dict(zip(names, got, strict=True))


@pytest.fixture(params=["file", "http"])
def tab(request, site, browser):
    root, _ = site
    if request.param == "file":
        t = Tab(browser, (root / "index.html").as_uri(), "file://")
        yield t
    else:
        with check_book.serve(root) as base:
            t = Tab(browser, base + "index.html", base.rstrip("/"))
            yield t
    t.page.close()


def _compare(tab: Tab, widget, kind: str) -> float:
    """Largest difference between what the page draws and PyTorch for the page's state."""
    state = tab.state(kind)
    with widget.hold_trait_notifications():
        for name, value in state.items():
            setattr(widget, name, value)
    expected = widget._images(widget.state())
    shown = tab.shown(kind, list(expected))
    worst = 0.0
    for name, (label, images) in expected.items():
        assert shown[name]["label"] == label, (kind, name)
        worst = max(worst, float(np.abs(np.asarray(shown[name]["ink"]) - images.ravel()).max()))
    return worst


def test_every_explorer_responds_to_its_probes_offline(tab):
    problems, info = check_book.explorer_problems(tab.page)
    assert problems == [] and tab.problems == []
    assert info["explorers"] == 4 and 0 < info["explorer_model_bytes"] < E.PAGE_BUDGET


def test_free_mouse_and_keyboard_input_draws_pytorchs_pixels(tab, site):
    _, widgets = site
    page = tab.page
    # latent: a drag to an arbitrary point, then keys on the plane itself
    plane = tab.root("latent").locator('[data-control="plane"]')
    plane.scroll_into_view_if_needed()
    box = plane.bounding_box()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.7 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.81 * box["width"], box["y"] + 0.13 * box["height"], steps=7)
    page.mouse.up()
    z = tab.state("latent")["z"]
    assert z[0] > 1.5 and z[1] > 1.5  # up and to the right of the centre
    assert _compare(tab, widgets["latent"], "latent") <= E.PIXEL_TOLERANCE
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowDown")
    assert tab.state("latent")["z"] == pytest.approx([z[0] - 0.05, z[1] - 0.5])
    assert _compare(tab, widgets["latent"], "latent") <= E.PIXEL_TOLERANCE
    # interpolation: End on t, then the spherical path and another image B
    root = tab.root("interpolation")
    root.locator('[data-control="t"]').focus()
    page.keyboard.press("End")
    page.keyboard.press("PageDown")
    root.locator('[data-control="path-spherical"]').click()
    root.locator('[data-control="b-9"]').click()
    assert tab.state("interpolation") == {"a": 3, "b": 9, "t": 0.5, "path": "spherical"}
    assert _compare(tab, widgets["interpolation"], "interpolation") <= E.PIXEL_TOLERANCE
    # denoising: masking, then a level
    root = tab.root("denoising")
    root.locator('[data-control="type-mask"]').click()
    root.locator('[data-control="noise"]').focus()
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    assert tab.state("denoising") == {"noise": 0.45, "noise_type": "mask"}
    assert _compare(tab, widgets["denoising"], "denoising") <= E.PIXEL_TOLERANCE
    # beta: new samples twice, then the last beta by the keyboard
    root = tab.root("beta")
    root.locator('[data-control="resample"]').click()
    root.locator('[data-control="resample"]').click()
    root.locator('[data-control="beta-0"] input').focus()
    page.keyboard.press("ArrowLeft")  # from the first beta, wraps to the last
    assert tab.state("beta") == {"beta": 4.0, "sample_seed": 2}
    assert _compare(tab, widgets["beta"], "beta") <= E.PIXEL_TOLERANCE
    assert tab.problems == []


def test_every_control_is_labelled_and_reached_with_the_tab_key(tab):
    page = tab.page
    report = page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-aevae-explorer]')).map(root => {
          const controls = Array.from(root.querySelectorAll('input, button, [tabindex="0"]'));
          const named = el => !!((el.labels && el.labels.length && el.labels[0].textContent.trim())
              || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim()));
          return {kind: root.dataset.aevaeExplorer,
                  unnamed: controls.filter(el => !named(el)).map(el => el.outerHTML.slice(0, 80)),
                  images: Array.from(root.querySelectorAll('canvas[role=img]'))
                            .filter(c => !c.getAttribute('aria-label')).length,
                  groups: Array.from(root.querySelectorAll('fieldset')).filter(
                            f => !f.querySelector('legend').textContent.trim()).length};
        })"""
    )
    for r in report:
        assert r["unnamed"] == [] and r["images"] == 0 and r["groups"] == 0, r
    # Tab from the top reaches every explorer's controls (a radio group is one stop)
    page.locator("h1").click()
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                """() => { const el = document.activeElement, root = el.closest('[data-aevae-explorer]');
                   const c = el.closest('[data-control]');
                   return root ? root.dataset.aevaeExplorer + ':' + (c ? c.dataset.control : '?') : ''; }"""
            )
        )
    for stop in ("latent:plane", "latent:z1", "latent:z2", "interpolation:t",
                 "interpolation:path-linear", "denoising:noise", "beta:resample"):  # fmt: skip
        assert stop in reached, (stop, sorted(reached))
    assert any(s.startswith("interpolation:a-") for s in reached)
    assert any(s.startswith("beta:beta-") for s in reached)


def test_a_state_change_from_the_kernel_redraws_the_page(site, browser):
    """In JupyterLab a trait set in Python changes the front-end's model; the page redraws."""
    root, widgets = site
    t = Tab(browser, (root / "index.html").as_uri(), "file://")
    # no kernel here: change the front-end's model as the kernel's message would
    t.root("latent").evaluate("el => el.__aevae.model.set('z', [1.25, -0.5])")
    t.root("beta").evaluate("el => el.__aevae.model.set('beta', 4.0)")
    assert t.state("latent") == {"z": [1.25, -0.5]} and t.state("beta")["beta"] == 4.0
    assert t.page.locator('[data-control="z1"]').input_value() == "1.25"
    assert _compare(t, widgets["latent"], "latent") <= E.PIXEL_TOLERANCE
    assert _compare(t, widgets["beta"], "beta") <= E.PIXEL_TOLERANCE
    assert t.problems == []
    t.page.close()


def test_an_explorer_that_ignores_its_input_fails_the_check(tmp_path, browser):
    class Deaf(E.LatentExplorer):  # draws once, then ignores every event
        _esm = (
            (E.STATIC / "explorers.js")
            .read_text()
            .replace("function setZ(nz, ev) {", "function setZ(nz, ev) { return;")
        )

    torch.manual_seed(0)
    vae2 = _spread(VAE(latent_dim=2, hidden=(16,)))
    deaf = Deaf(vae2, codes=None, labels=None, z_range=3.0, step=0.05, zoom=6, encoding="auto")
    (tmp_path / "vendor").symlink_to(VENDOR, target_is_directory=True)
    (tmp_path / "index.html").write_text(E.page_html([deaf]), encoding="utf-8")
    t = Tab(browser, (tmp_path / "index.html").as_uri(), "file://")
    problems, _ = check_book.explorer_problems(t.page)
    t.page.close()
    assert len(problems) == 2  # the click and the drag (its sliders still move it)
    assert all("did not respond" in p and "plane" in p for p in problems), problems


def test_the_book_check_drives_the_explorers_of_every_page(tmp_path, chromium):
    """check_book.py, as `make check-book` runs it (its own browser, so a subprocess here)."""
    import subprocess

    (tmp_path / "vendor").symlink_to(VENDOR, target_is_directory=True)
    torch.manual_seed(0)
    w = E.latent_explorer(_spread(VAE(latent_dim=2, hidden=(16,))))
    (tmp_path / "index.html").write_text(E.page_html([w]), encoding="utf-8")
    (tmp_path / "plain.html").write_text(
        "<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head>"
        "<body><p>No explorer here.</p></body></html>"
    )
    script = Path(check_book.__file__)
    args = [sys.executable, str(script), str(tmp_path), "--chromium", chromium,
            "--screenshots", str(tmp_path / "shots")]  # fmt: skip
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = {
        line.split()[1]: line for line in run.stdout.splitlines() if line[:4] in ("ok  ", "FAIL")
    }
    assert lines["index.html"].rstrip().endswith("explorers 1")
    assert lines["plain.html"].rstrip().endswith("explorers 0")
