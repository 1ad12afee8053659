"""Cross-cutting house rules of aevae_lib: its layers, one home per idea, module docstrings,
and a test file beside every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import aevae_lib

ROOT = Path(aevae_lib.__file__).parent
TESTS = Path(__file__).parent

#: Layer of every module (a subpackage's modules share its layer); the package docstring draws it.
LAYERS = {
    **dict.fromkeys(["runtime", "data", "corrupt", "claims"], 0),
    **dict.fromkeys(
        ["models", "objectives", "configs", "checkpoint", "likelihood", "toy", "latent"], 1
    ),
    **dict.fromkeys(["cvae", "vq", "code_prior", "prior_flow"], 1),
    "gradients": 1,
    **dict.fromkeys(["train", "evaluate", "anomaly", "judge", "zoo", "exercises", "semisup"], 2),
    **dict.fromkeys(["iwae", "gradient_snr", "amortization"], 2),
    **dict.fromkeys(["plots", "diagrams", "figures", "explorers"], 3),
    **dict.fromkeys(["cli", "__main__", "bench"], 4),
}

MODULES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def _imports(path: Path, source: str | None = None) -> set[str]:
    """The aevae_lib modules ``path`` (or ``source``, read as if it were ``path``) imports, as
    dotted names below the package."""
    package = list(path.relative_to(ROOT).parent.parts)
    out = set()
    source = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            if node.module:
                out.add(".".join([*base, node.module]))
            else:
                out.update(".".join([*base, a.name]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aevae_lib."):
            out.add(node.module.removeprefix("aevae_lib."))
    return out


def test_every_module_has_a_layer():
    unknown = {_name(p).split(".")[0] for p in MODULES} - set(LAYERS) - {"__init__"}
    assert not unknown, f"give {sorted(unknown)} a layer in LAYERS (and the package docstring)"


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "__init__.py"], ids=_name)
def test_no_module_imports_from_a_layer_above_its_own(path):
    here = _layer(_name(path))
    above = sorted(m for m in _imports(path) if _layer(m) > here)
    assert not above, f"{_name(path)} (layer {here}) imports {above} from a higher layer"


def test_the_layer_check_sees_upward_imports_of_every_form():
    """What the check above would catch: models importing the training loop or the plots."""
    source = "from .train import fit\nfrom . import plots\nfrom aevae_lib.zoo import trained_vae\n"
    found = _imports(ROOT / "models.py", source)
    assert found == {"train", "plots", "zoo"}
    assert all(_layer(m) > _layer("models") for m in found)
    assert _imports(ROOT / "explorers" / "beta.py", "from ..figures import strip\n") == {"figures"}


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "__main__.py"], ids=_name)
def test_module_docstring_names_its_job_and_what_it_owns(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and len(doc.splitlines()[0]) > 20, f"{_name(path)}: open with a docstring"
    public = [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")
    ]
    if public:
        assert "Owns:" in doc, f"{_name(path)}: say what the module owns ('Owns: ...')"
        unnamed = [n for n in public if not re.search(rf"\b{n}\b", doc)]
        assert not unnamed, f"{_name(path)}: the docstring does not name {unnamed}"


def test_private_decode_is_called_only_inside_models():
    callers = [
        _name(p)
        for p in MODULES
        if p.name != "models.py" and "._decode(" in p.read_text(encoding="utf-8")
    ]
    assert not callers, f"use VAE.decode_params instead of the private _decode in {callers}"


def test_every_module_has_a_test_file_of_its_own():
    """tests/ mirrors aevae_lib/: test_<module>.py, or test_<package>*.py for a subpackage."""
    names = {p.stem for p in TESTS.glob("test_*.py")}
    missing = []
    for path in MODULES:
        module = _name(path)
        if module in {"__init__", "__main__"}:
            continue
        top = module.split(".")[0]
        if path.parent != ROOT:  # a subpackage: one suite for the package, or one per module
            if not any(n == f"test_{top}" or n.startswith(f"test_{top}_") for n in names):
                missing.append(f"test_{top}.py")
        elif f"test_{module}" not in names:
            missing.append(f"test_{module}.py")
    assert not missing, f"add {sorted(set(missing))}"
