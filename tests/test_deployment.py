"""Deployment that works the first time: the GitHub Pages workflow is valid and does what the
project needs (a pip cache, Pages configured, publishing rights only where publishing happens,
deploys never cancelled, the notebooks executed once), and Binder builds PyTorch's CPU-only
build from binder/environment.yml, not the multi-GB CUDA wheel."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"
BINDER = REPO / "binder"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow, job):
    return workflow["jobs"][job]["steps"]


def test_the_workflow_passes_the_github_workflow_schema():
    """check-jsonschema carries the schema of GitHub workflows (SchemaStore's), so this needs
    no network."""
    exe = shutil.which("check-jsonschema") or str(
        Path(__import__("sys").executable).parent / "check-jsonschema"
    )
    if not Path(exe).exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    done = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_python_packages_are_cached_by_pip(workflow):
    setup = next(
        s for s in _steps(workflow, "build") if s.get("uses", "").startswith("actions/setup-python")
    )
    assert setup["with"]["cache"] == "pip"
    assert "constraints.txt" in setup["with"]["cache-dependency-path"]


def test_pages_is_configured_before_the_upload(workflow):
    uses = [s.get("uses", "") for s in _steps(workflow, "build")]
    configure = next(i for i, u in enumerate(uses) if u.startswith("actions/configure-pages"))
    upload = next(i for i, u in enumerate(uses) if u.startswith("actions/upload-pages-artifact"))
    assert configure < upload


def test_only_the_deploy_job_may_publish(workflow):
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in workflow["jobs"]["build"]
    assert workflow["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert workflow["jobs"]["deploy"]["needs"] == "build"


def test_a_deploy_is_never_cancelled(workflow):
    cancel = workflow["concurrency"]["cancel-in-progress"]
    assert cancel is False or cancel == "${{ github.event_name == 'pull_request' }}"


def test_the_notebooks_are_executed_once(workflow):
    """`make test` runs every notebook through nbval; `make book` runs them again. The
    workflow runs the unit tests alone and lets the book build be the notebook run."""
    runs = [s.get("run", "") for s in _steps(workflow, "build")]
    assert not any(r.split() == ["make", "test"] for r in runs), runs
    assert "make test-unit" in runs and "make book" in runs
    book = (REPO / "_config.yml").read_text()
    assert "allow_errors: false" in book  # so the build fails on a cell that raises


# --- Binder -----------------------------------------------------------------------------------
# repo2docker reads only binder/ when that folder exists. With an environment.yml it uses its
# conda build pack, which ignores requirements.txt and runtime.txt (documented; repo2docker's
# own tests/conda/py310-requirements-file checks it). On Linux, pip's torch==2.13.0 is the
# CUDA wheel; conda-forge's pytorch has CPU builds with build strings cpu_*.

TORCH_NAMES = {"torch", "pytorch", "pytorch-cpu", "pytorch-gpu"}


def _torch_pin() -> str:
    for line in (REPO / "constraints.txt").read_text().splitlines():
        match = re.fullmatch(r"torch==(\S+)", line.split("#", 1)[0].strip())
        if match:
            return match.group(1)
    raise AssertionError("constraints.txt pins no torch==X")


def _conda_spec(spec: str) -> tuple[str, str | None, str | None]:
    """'pytorch=2.13.0=cpu_*', 'pytorch==2.13.0', 'pytorch 2.13.0 cpu_*' -> (name, version,
    build)."""
    parts = [p for p in re.split(r"\s+|=+", spec.strip()) if p]
    parts += [None] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


@pytest.fixture(scope="module")
def binder_env() -> dict:
    path = BINDER / "environment.yml"
    assert path.exists(), (
        "binder/ has no environment.yml: repo2docker would pip-install the CUDA torch wheel"
    )
    return yaml.safe_load(path.read_text())


def test_binder_installs_the_cpu_build_of_the_pinned_torch(binder_env):
    assert "conda-forge" in binder_env["channels"]
    deps = binder_env["dependencies"]
    specs = [_conda_spec(d) for d in deps if isinstance(d, str)]
    torch = [s for s in specs if s[0] in TORCH_NAMES]
    assert len(torch) == 1, torch
    name, version, build = torch[0]
    assert version == _torch_pin(), (torch[0], "constraints.txt pins", _torch_pin())
    assert name == "pytorch-cpu" or (name == "pytorch" and build and build.startswith("cpu")), (
        f"{torch[0]}: not conda-forge's CPU-only build (pytorch=X=cpu_* or pytorch-cpu=X)"
    )
    pip = [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
    assert not [p for p in pip if re.match(r"(torch|pytorch)\b", p)], pip


def test_binder_pins_python_in_the_environment_and_has_no_ignored_files(binder_env):
    """With an environment.yml, repo2docker ignores binder/requirements.txt (a torch pin
    there would be dead, or, were environment.yml removed, the CUDA wheel) and runtime.txt."""
    specs = [_conda_spec(d) for d in binder_env["dependencies"] if isinstance(d, str)]
    python = [v for n, v, _ in specs if n == "python"]
    assert python and re.fullmatch(r"3\.\d+", python[0]), python
    assert not (BINDER / "requirements.txt").exists()
    assert not (BINDER / "runtime.txt").exists()


def test_binder_names_no_package_index_host():
    for path in sorted(BINDER.iterdir()):
        text = path.read_text()
        for bad in ("://", "index-url", "find-links"):
            assert bad not in text, f"{path.name} names a host ({bad!r})"


def test_binder_installs_the_package_and_checks_torch_is_the_cpu_build():
    post = (BINDER / "postBuild").read_text()
    assert os.access(BINDER / "postBuild", os.X_OK)
    assert re.search(r"pip install .*-e \.", post), post
    assert "torch.version.cuda is None" in post


def _repo2docker() -> list[str]:
    if importlib.util.find_spec("repo2docker") is not None:
        return [sys.executable, "-m", "repo2docker"]
    exe = shutil.which("repo2docker")
    if exe is None:
        pytest.skip(
            "repo2docker is not installed (pip install jupyter-repo2docker, in this or another "
            "environment on PATH); its --no-build renders the Dockerfile without docker"
        )
    return [exe]


def test_repo2docker_picks_its_conda_build_pack():
    if importlib.util.find_spec("repo2docker") is None:
        pytest.skip("repo2docker is not importable here (pip install jupyter-repo2docker)")
    from repo2docker.app import Repo2Docker
    from repo2docker.buildpacks import CondaBuildPack

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        app = Repo2Docker()
        picked = next(bp for BP in app.buildpacks if (bp := BP(base_image=app.base_image)).detect())
    finally:
        os.chdir(cwd)
    assert type(picked) is CondaBuildPack, type(picked).__name__
    assert picked.python_version == "3.11"


def test_repo2docker_renders_a_conda_install_and_no_pip_torch(tmp_path):
    """`repo2docker --no-build` prints the Dockerfile it would build (no docker needed)."""
    done = subprocess.run(
        [*_repo2docker(), "--no-build", "--debug", str(REPO)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    dockerfile = done.stdout
    assert "Building conda environment" in done.stderr, done.stderr
    assert re.search(r"env update .*--file \"binder/environment\.yml\"", dockerfile), dockerfile
    assert "requirements.txt" not in dockerfile
    assert not re.search(r"pip install[^\n]*torch", dockerfile)
    assert "./binder/postBuild" in dockerfile
