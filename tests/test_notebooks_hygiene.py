"""Notebook hygiene: every chapter in notebooks/ is stored clean and follows the house style.

Checked for each notebook: stored stripped (no outputs, no execution counts, no widget state),
valid nbformat with cell ids, kernelspec python3, no ``!pip`` / ``%pip`` (or conda) cells,
imports ``aevae_lib``, no code cell longer than 30 lines, no absolute or home-folder paths,
and ``## Summary`` followed by ``## Exercises``.

Chapters still marked "This chapter is being written." are stubs: the Summary/Exercises check
is an expected failure for them (xfail, not strict) and becomes a real check once the marker
is gone. Every other check applies to stubs too.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STUB_MARKER = "This chapter is being written."
#: A visible code cell fits on a screen as ``ruff format`` lays it out (one argument per line
#: once a call is long). Hidden checks (``remove-cell``: one claim per sentence) and the
#: one-cell complete VAE of chapter 04 (``complete-vae``, whole by design) are exempt.
MAX_CODE_LINES = 40
EXEMPT_TAGS = {"remove-cell", "complete-vae"}

_INSTALL = re.compile(
    r"^\s*(!|%{1,2})\s*(pip3?|conda|mamba|micromamba|uv)\b|^\s*!.*\bpip3? install"
)
_IMPORTS_LIB = re.compile(r"^\s*(import aevae_lib\b|from aevae_lib(\.\w+)* import\b)", re.M)
_ABSOLUTE_IN_CODE = [
    re.compile(r"""(['"])/(?!/)[A-Za-z_][^'"\s]*/[^'"\s]*\1"""),  # "/home/me/data", '/work/x/'
    re.compile(r"""(['"])[A-Za-z]:[\\/]"""),  # "C:\Users\...", 'D:/data'
    re.compile(r"""(['"])~[/\\]"""),  # "~/data": someone else's home folder layout
]
_HOME_ANYWHERE = re.compile(r"(?<![\w.])(/home/|/Users/|/root/|/work/|[A-Za-z]:\\Users\\)")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _cells(nb, kind: str):
    return [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == kind]


def _is_stub(path: Path) -> bool:
    return any(STUB_MARKER in cell.source for _, cell in _cells(_read(path), "markdown"))


def _params(xfail_stubs: bool = False):
    params = []
    for path in NOTEBOOKS:
        marks = []
        if xfail_stubs and _is_stub(path):
            marks.append(
                pytest.mark.xfail(reason="stub chapter: still being written", strict=False)
            )
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def test_the_chapters_are_there():
    assert len(NOTEBOOKS) >= 8, [p.name for p in NOTEBOOKS]
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", _params())
def test_stored_stripped(path):
    nb = _read(path)
    dirty = [
        i
        for i, cell in _cells(nb, "code")
        if cell.get("outputs") or cell.get("execution_count") is not None
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run nbstripout --keep-id {path}"
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state; run nbstripout"
    timed = [
        i for i, cell in enumerate(nb.cells) if {"execution", "ExecuteTime"} & set(cell.metadata)
    ]
    assert not timed, f"{path.name}: cells {timed} store execution times; run nbstripout"


@pytest.mark.parametrize("path", _params())
def test_valid_format_with_cell_ids_and_python3_kernel(path):
    nb = _read(path)
    nbformat.validate(nb)
    ids = [cell.get("id") for cell in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: missing or repeated cell ids"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", nb.metadata.get("kernelspec")


@pytest.mark.parametrize("path", _params())
def test_no_package_installs(path):
    found = [
        f"cell {i}: {line.strip()}"
        for i, cell in _cells(_read(path), "code")
        for line in cell.source.splitlines()
        if _INSTALL.search(line)
    ]
    assert not found, f"{path.name} installs packages (the README's setup does that): {found}"


@pytest.mark.parametrize("path", _params())
def test_imports_aevae_lib(path):
    sources = [cell.source for _, cell in _cells(_read(path), "code")]
    assert any(_IMPORTS_LIB.search(s) for s in sources), f"{path.name} never imports aevae_lib"


@pytest.mark.parametrize("path", _params())
def test_code_cells_are_short(path):
    long_cells = []
    for i, cell in _cells(_read(path), "code"):
        if EXEMPT_TAGS & set(cell.metadata.get("tags", [])):
            continue
        lines = cell.source.rstrip().splitlines()
        if len(lines) > MAX_CODE_LINES:
            long_cells.append(f"cell {i} ({len(lines)} lines, starts {lines[0][:40]!r})")
    assert not long_cells, (
        f"{path.name}: code cells over {MAX_CODE_LINES} lines: {long_cells}; split them or move "
        "the helper into aevae_lib"
    )


@pytest.mark.parametrize("path", _params())
def test_no_absolute_paths(path):
    nb = _read(path)
    found = []
    for i, cell in enumerate(nb.cells):
        patterns = [_HOME_ANYWHERE] + (_ABSOLUTE_IN_CODE if cell.cell_type == "code" else [])
        for line in cell.source.splitlines():
            if any(p.search(line) for p in patterns):
                found.append(f"cell {i}: {line.strip()[:80]}")
    assert not found, (
        f"{path.name} has machine-specific paths (use AEVAE_DATA / AEVAE_CACHE or a path "
        f"relative to the notebook): {found}"
    )


@pytest.mark.parametrize("path", _params(xfail_stubs=True))
def test_ends_with_summary_then_exercises(path):
    headings = [
        line.strip()
        for _, cell in _cells(_read(path), "markdown")
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert "## Summary" in headings, f"{path.name} has no '## Summary' heading"
    assert "## Exercises" in headings, f"{path.name} has no '## Exercises' heading"
    assert headings.index("## Summary") < headings.index("## Exercises"), (
        f"{path.name}: '## Summary' should come before '## Exercises'"
    )


# ---- the checks themselves ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "!pip install torch",
        "%pip install -q aevae-lib",
        "  !conda install numpy",
        "!python -m pip install x",
    ],
)
def test_install_pattern_catches(line):
    assert _INSTALL.search(line)


@pytest.mark.parametrize("line", ["import pip_tools", "# we do not pip install here", "x = 'pip'"])
def test_install_pattern_lets_pass(line):
    assert not _INSTALL.search(line)


@pytest.mark.parametrize(
    "line",
    [
        'root = "/home/alice/mnist"',
        "load_mnist(root='/work/shared/data')",
        'p = "C:\\\\Users\\\\bob\\\\data"',
        "open('~/data/x.npy')",
        "see /Users/carol/notes",
    ],
)
def test_path_patterns_catch(line):
    assert any(p.search(line) for p in [_HOME_ANYWHERE, *_ABSOLUTE_IN_CODE])


@pytest.mark.parametrize(
    "line",
    [
        'url = "https://ossci-datasets.s3.amazonaws.com/mnist/"',
        'out = Path("figures") / "vae.png"',
        "x = a / b / c",
        "ratio = '1/2'",
        "os.environ['AEVAE_DATA']",
    ],
)
def test_path_patterns_let_pass(line):
    assert not any(p.search(line) for p in [_HOME_ANYWHERE, *_ABSOLUTE_IN_CODE])
