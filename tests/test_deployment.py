"""Deployment that works the first time: the GitHub Pages workflow is valid and does what the
project needs (a pip cache, Pages configured, publishing rights only where publishing happens,
deploys never cancelled, the notebooks executed once)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


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
