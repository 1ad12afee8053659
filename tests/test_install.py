"""The install line a Colab reader runs works: the package installs from a git URL with
everything it needs (every subpackage, the explorers' JavaScript, the shipped weights).

The test runs the README's line, ``pip install "aevae-lib @ git+<url>"``, against a clone of
this repository's last commit (``git+file://``), never against the web. Slow: it builds the
package (about half a minute).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _git(*args, cwd=REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tmp = tmp_path_factory.mktemp("install")
    clone = tmp / "clone"
    _git("clone", "--quiet", "--no-hardlinks", str(REPO), str(clone))
    target = tmp / "site"
    line = f"aevae-lib @ git+file://{clone}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            line,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_every_module_of_the_package_is_installed(installed):
    tracked = [p for p in _git("ls-files", "aevae_lib").split() if p.endswith(".py")]
    missing = [p for p in tracked if not (installed / p).is_file()]
    assert not missing, f"not installed from the git URL: {missing}"


def test_the_package_data_is_installed(installed):
    tracked = _git("ls-files", "aevae_lib").split()
    data = [p for p in tracked if not p.endswith(".py")]
    assert data, "the package ships no data files?"
    missing = [p for p in data if not (installed / p).is_file()]
    assert not missing, f"package data not installed from the git URL: {missing}"


def test_the_installed_package_imports_and_finds_its_weights(installed):
    code = (
        "import aevae_lib.zoo as zoo, aevae_lib.bench.cpu_run, aevae_lib.explorers\n"
        "print(zoo.REFERENCE_WEIGHTS)\n"
        "ref = zoo.reference_vae()\n"
        "print('shipped' if ref is not None else 'not shipped')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=installed
    )
    assert done.returncode == 0, done.stderr
    path, status = done.stdout.splitlines()
    assert Path(path).is_relative_to(installed)  # the installed copy, not this checkout
    shipped_here = (REPO / "aevae_lib" / "weights" / "reference_vae.pt").is_file()
    assert status == ("shipped" if shipped_here else "not shipped")
