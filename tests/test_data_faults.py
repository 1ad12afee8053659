"""Damaged MNIST files and failed downloads: refused with a message that says what to do;
nothing is lost or half-written.

Covered elsewhere (tests/test_data.py): truncated gzip, one flipped byte, the offline error,
a corrupt download, a download through a local mirror. Here: wrong magic number, wrong item
count (a header that lies, and a table that disagrees), a missing file, unwritable folders,
interrupted downloads, a full disk, and two processes loading and downloading at once.

Tests run as root in CI, where ``chmod`` does not stop writes: unwritable folders are made by
putting them under a regular file; the one ``chmod`` test is skipped as root.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import http.server
import multiprocessing
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import threading
import urllib.error

import pytest
import torch
from conftest import REPO

from aevae_lib import data
from aevae_lib.data import DataError, load_mnist

IMAGES, LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def _write(folder, name: str, raw: bytes) -> None:
    (folder / "mnist" / f"{name}.gz").write_bytes(gzip.compress(raw))


def _register(monkeypatch, name: str, raw: bytes, count: int | None = None) -> None:
    """Make ``raw`` the published content of ``name`` (so its MD5 check passes)."""
    table = dict(data.MNIST_FILES)
    _, old_count, magic = table[name]
    table[name] = (hashlib.md5(raw).hexdigest(), old_count if count is None else count, magic)
    monkeypatch.setattr(data, "MNIST_FILES", table)


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def _serve(fake_folder, mirror_dir) -> None:
    for f in (fake_folder / "mnist").iterdir():
        shutil.copy(f, mirror_dir / f.name)


# ---- wrong magic number, wrong count ---------------------------------------------------------


def test_wrong_magic_number_is_named(fake_mnist, monkeypatch):
    folder, raw = fake_mnist
    blob = struct.pack(">I", 2049) + raw[IMAGES][4:]  # an image file that claims to hold labels
    _write(folder, IMAGES, blob)
    _register(monkeypatch, IMAGES, blob)  # the MD5 passes: the header check must catch it
    with pytest.raises(DataError) as info:
        load_mnist("test", root=folder, download=False)
    message = str(info.value)
    assert f"{IMAGES}.gz" in message
    assert "magic number 2049 (a label file)" in message
    assert "expected magic number 2051 (an image file)" in message
    assert "delete it and run again" in message


def test_swapped_files_fail_the_checksum_and_the_message_says_why(fake_mnist):
    """The MD5 check comes first; its message still explains what the header shows."""
    folder, raw = fake_mnist
    _write(folder, IMAGES, raw[LABELS])  # the label file saved under the image file's name
    with pytest.raises(DataError) as info:
        load_mnist("test", root=folder, download=False)
    message = str(info.value)
    assert "does not match the published" in message
    assert "magic number 2049 (a label file) with 3 items" in message
    assert "expected magic number 2051 (an image file) with 3 items" in message
    assert "Delete it and run again" in message


def test_a_header_that_lies_about_the_count_is_refused(fake_mnist):
    folder, raw = fake_mnist
    blob = raw[IMAGES][:4] + struct.pack(">I", 4) + raw[IMAGES][8:]  # says 4 images, holds 3
    _write(folder, IMAGES, blob)
    with pytest.raises(
        DataError,
        match=r"does not match the published .*with 4 items, "
        r"expected magic number 2051 \(an image file\) with 3 items",
    ):
        load_mnist("test", root=folder, download=False)


def test_a_count_that_differs_from_the_table_is_refused(fake_mnist, monkeypatch):
    folder, raw = fake_mnist
    _register(monkeypatch, LABELS, raw[LABELS], count=10000)  # e.g. a short test split
    with pytest.raises(
        DataError,
        match=r"header says magic number 2049 \(a label file\) with 3 "
        r"items, expected magic number 2049 \(a label file\) with 10000 items",
    ):
        load_mnist("test", root=folder, download=False)


def test_a_file_shorter_than_a_header_is_refused(fake_mnist):
    folder, _ = fake_mnist
    _write(folder, LABELS, b"\x00\x00")
    with pytest.raises(DataError, match=r"only 2 bytes long, shorter than an IDX header"):
        load_mnist("test", root=folder, download=False)


# ---- a missing file ------------------------------------------------------------------------------


def test_one_missing_file_is_named_and_the_other_split_still_loads(fake_mnist):
    folder, _ = fake_mnist
    (folder / "mnist" / f"{LABELS}.gz").unlink()
    with pytest.raises(DataError) as info:
        load_mnist("test", root=folder, download=False)
    message = str(info.value)
    assert f"MNIST file {LABELS}(.gz) not found" in message
    assert str(folder) in message and "AEVAE_DATA" in message
    x, y = load_mnist("train", root=folder, download=False)
    assert x.shape == (7, 784) and y.shape == (7,)


def test_one_missing_file_is_downloaded_alone(fake_mnist, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    served = tmp_path / "served"
    shutil.copytree(folder / "mnist", served)
    (folder / "mnist" / f"{LABELS}.gz").unlink()
    images_before = (folder / "mnist" / f"{IMAGES}.gz").read_bytes()
    calls = []

    def fetch(url, timeout=60.0):
        calls.append(url.rsplit("/", 1)[1])
        return (served / calls[-1]).read_bytes()

    monkeypatch.setattr(data, "fetch", fetch)
    x, y = load_mnist("test", root=folder)
    assert calls == [f"{LABELS}.gz"] and x.shape == (3, 784) and y.shape == (3,)
    assert (folder / "mnist" / f"{IMAGES}.gz").read_bytes() == images_before


def test_one_missing_file_offline_says_how_to_fix_it(fake_mnist, monkeypatch):
    folder, _ = fake_mnist
    (folder / "mnist" / f"{IMAGES}.gz").unlink()

    def offline(url, timeout=60.0):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "fetch", offline)
    with pytest.raises(DataError) as info:
        load_mnist("test", root=folder)
    message = str(info.value)
    assert f"could not download {IMAGES}.gz from any mirror" in message
    assert "name resolution" in message and "set AEVAE_DATA" in message
    assert _files(folder / "mnist") == sorted(
        f"{n}.gz" for n in data.MNIST_FILES if n != IMAGES
    )  # nothing half-written


# ---- unwritable folders ----------------------------------------------------------------------------


@pytest.fixture
def unwritable_cache(tmp_path, monkeypatch):
    """AEVAE_CACHE below a regular file: no folder can be made there, even by root."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("AEVAE_CACHE", str(blocker / "cache"))
    return blocker / "cache"


def test_download_into_an_unwritable_cache_says_to_set_aevae_data(fake_mnist, unwritable_cache):
    with pytest.raises(DataError) as info:
        load_mnist("test")  # nothing in root or AEVAE_DATA: it would download into the cache
    message = str(info.value)
    assert f"cannot write to {unwritable_cache / 'data' / 'mnist'}" in message
    assert "Set AEVAE_DATA to a writable folder" in message


def test_an_unwritable_model_cache_still_returns_the_trained_model(unwritable_cache):
    from aevae_lib import zoo
    from aevae_lib.configs import AEConfig

    def train(model):
        with torch.no_grad():
            model.decoder[0].weight.fill_(1.0)
        return {"loss": [0.5]}

    config = AEConfig(latent_dim=2, hidden=(4,))
    with pytest.warns(RuntimeWarning, match=r"could not write the model cache .*Set AEVAE_CACHE"):
        model, history = zoo.load_or_train(
            config, train, device=torch.device("cpu"), say=lambda text: None
        )
    assert history == {"loss": [0.5]} and bool((model.decoder[0].weight == 1.0).all())


def test_loading_never_writes_into_the_data_folder(fake_mnist):
    folder, _ = fake_mnist
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    load_mnist("train", root=folder, download=False)
    load_mnist("test", root=folder, download=False)
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: chmod does not stop root from writing (the tests above cover it)",
)
def test_a_read_only_data_folder_loads_and_a_read_only_cache_is_reported(
    fake_mnist, tmp_path, monkeypatch
):
    folder, _ = fake_mnist
    readonly = tmp_path / "readonly"
    (readonly / "data").mkdir(parents=True)
    os.chmod(readonly / "data", 0o555)
    os.chmod(folder / "mnist", 0o555)
    monkeypatch.setenv("AEVAE_CACHE", str(readonly))
    try:
        assert load_mnist("test", root=folder, download=False)[0].shape == (3, 784)
        with pytest.raises(DataError, match="cannot write to .*Set AEVAE_DATA to a writable"):
            load_mnist("test")
    finally:
        os.chmod(readonly / "data", 0o755)
        os.chmod(folder / "mnist", 0o755)


# ---- interrupted downloads -------------------------------------------------------------------------


def test_a_broken_transfer_falls_back_to_the_next_mirror(fake_mnist, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    calls = []

    def fetch(url, timeout=60.0):
        calls.append(url)
        if url.startswith("https://first/"):
            raise http.client.IncompleteRead(b"\x1f\x8b partial", 1000)
        return (folder / "mnist" / url.rsplit("/", 1)[1]).read_bytes()

    monkeypatch.setattr(data, "fetch", fetch)
    monkeypatch.setattr(data, "MNIST_MIRRORS", ["https://first/", "https://second/"])
    target = tmp_path / "dl"
    x, _ = load_mnist("test", root=target)
    assert x.shape == (3, 784) and len(calls) == 4
    assert _files(target) == [f"{IMAGES}.gz", f"{LABELS}.gz"]  # no .part file left


class _CutOffHandler(http.server.BaseHTTPRequestHandler):
    """Promises the whole file, sends half of it, then drops the connection."""

    folder = None

    def do_GET(self):
        blob = (self.folder / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob[: len(blob) // 2])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def cut_off_mirror(fake_mnist, tmp_path):
    folder, _ = fake_mnist
    handler = type("Handler", (_CutOffHandler,), {"folder": folder / "mnist"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_dropped_midway_leaves_nothing_behind(cut_off_mirror, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MNIST_MIRRORS", [cut_off_mirror])
    target = tmp_path / "dl"
    with pytest.raises(DataError) as info:
        load_mnist("test", root=target)
    message = str(info.value)
    assert f"could not download {IMAGES}.gz" in message and "IncompleteRead" in message
    assert _files(target) == []  # neither the final file nor a .part file


def test_an_interrupt_during_the_download_removes_the_temporary_file(
    fake_mnist, http_mirror, tmp_path, monkeypatch
):
    folder, _ = fake_mnist
    mirror_dir, url = http_mirror
    _serve(folder, mirror_dir)
    monkeypatch.setattr(data, "MNIST_MIRRORS", [url])

    def interrupted(url, timeout=60.0):
        raise KeyboardInterrupt  # Ctrl-C while the bytes arrive

    original = data.fetch
    monkeypatch.setattr(data, "fetch", interrupted)
    target = tmp_path / "dl"
    with pytest.raises(KeyboardInterrupt):
        load_mnist("test", root=target)
    assert _files(target) == []
    monkeypatch.setattr(data, "fetch", original)  # the next run, not interrupted, just works
    assert load_mnist("test", root=target)[0].shape == (3, 784)
    assert _files(target) == [f"{IMAGES}.gz", f"{LABELS}.gz"]


def test_a_stale_part_file_is_never_used(fake_mnist, http_mirror, tmp_path, monkeypatch):
    """A .part file left by a killed process: ignored when looking up, replaced by a download."""
    folder, raw = fake_mnist
    mirror_dir, url = http_mirror
    _serve(folder, mirror_dir)
    monkeypatch.setattr(data, "MNIST_MIRRORS", [url])
    target = tmp_path / "dl"
    (target / "mnist").mkdir(parents=True)
    stale = target / "mnist" / f".{IMAGES}.gz.k1ll3d.part"
    stale.write_bytes(gzip.compress(raw[IMAGES])[:40])
    with pytest.raises(DataError, match=f"MNIST file {IMAGES}"):
        load_mnist("test", root=target, download=False)
    x, _ = load_mnist("test", root=target)
    assert x.shape == (3, 784)
    assert gzip.decompress((target / "mnist" / f"{IMAGES}.gz").read_bytes()) == raw[IMAGES]


def test_a_full_disk_while_saving_keeps_nothing_and_says_what_to_do(
    fake_mnist, tmp_path, monkeypatch
):
    folder, _ = fake_mnist
    monkeypatch.setattr(
        data,
        "fetch",
        lambda url, timeout=60.0: (folder / "mnist" / url.rsplit("/", 1)[1]).read_bytes(),
    )

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.os, "fsync", full_disk)
    target = tmp_path / "dl"
    with pytest.raises(
        DataError,
        match=r"could not save .*No space left on device.*nothing was "
        r"kept\. Free some disk space or set AEVAE_DATA",
    ):
        load_mnist("test", root=target)
    assert _files(target) == []


# ---- two processes at once ---------------------------------------------------------------------


def _load_in_child(root, barrier, results):
    original = data.fetch

    def fetch_in_step(url, timeout=60.0):  # both children hold the bytes, then both write
        blob = original(url, timeout)
        barrier.wait(timeout=20)
        return blob

    data.fetch = fetch_in_step
    try:
        x, y = load_mnist("test", root=root)
        results.put(("ok", tuple(x.shape), hashlib.md5(x.numpy().tobytes()).hexdigest()))
    except BaseException as err:  # report anything to the parent
        results.put(("error", repr(err), ""))


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_two_processes_downloading_at_once_both_succeed(
    fake_mnist, http_mirror, tmp_path, monkeypatch
):
    folder, raw = fake_mnist
    mirror_dir, url = http_mirror
    _serve(folder, mirror_dir)
    monkeypatch.setattr(data, "MNIST_MIRRORS", [url])
    target = tmp_path / "shared-dl"
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    children = [ctx.Process(target=_load_in_child, args=(target, barrier, results)) for _ in "ab"]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert outcomes[0] == outcomes[1] and outcomes[0][:2] == ("ok", (3, 784)), outcomes
    assert _files(target) == [f"{IMAGES}.gz", f"{LABELS}.gz"]
    for name in (IMAGES, LABELS):  # intact, byte for byte
        assert gzip.decompress((target / "mnist" / f"{name}.gz").read_bytes()) == raw[name]
    x, _ = load_mnist("test", root=target, download=False)  # and usable afterwards
    assert x.shape == (3, 784)


_CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    from aevae_lib import data
    table, mirror, root = json.loads(sys.argv[1])
    data.MNIST_FILES = {k: tuple(v) for k, v in table.items()}
    data.MNIST_MIRRORS = [mirror]
    x, y = data.load_mnist("test", root=root)
    x2, _ = data.load_mnist("train", root=root)
    print(tuple(x.shape), tuple(x2.shape), hashlib.md5(x.numpy().tobytes()).hexdigest())
    """
)


@pytest.mark.slow
def test_two_interpreters_loading_and_downloading_at_once(fake_mnist, http_mirror, tmp_path):
    """The same race between two independent Python processes (each imports torch: slow)."""
    import json

    folder, raw = fake_mnist
    mirror_dir, url = http_mirror
    _serve(folder, mirror_dir)
    target = tmp_path / "shared-dl"
    arg = json.dumps([data.MNIST_FILES, url, str(target)])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, arg],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    assert outputs[0][0] == outputs[1][0] and outputs[0][0].startswith("(3, 784) (7, 784)")
    assert len(_files(target)) == 4
    for name, blob in raw.items():
        assert gzip.decompress((target / "mnist" / f"{name}.gz").read_bytes()) == blob


# ---- a failed download creates nothing; the errors name the folders ------------------------


def test_a_failed_download_creates_no_folder(monkeypatch, tmp_path):
    """Regression: a failed download left an empty AEVAE_DATA/mnist/ behind."""

    def offline(url, timeout=60.0):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data, "fetch", offline)
    target = tmp_path / "data"
    target.mkdir()
    monkeypatch.setenv("AEVAE_DATA", str(target))
    with pytest.raises(DataError, match="could not download"):
        load_mnist("test")
    assert list(target.iterdir()) == []  # no mnist/ sub-folder
    with pytest.raises(DataError):
        load_mnist("test", root=tmp_path / "new" / "deep")
    assert not (tmp_path / "new").exists()


def test_a_mistyped_aevae_data_is_not_created_and_the_error_says_it_is_set(monkeypatch, tmp_path):
    """Regression: a download went into a mistyped AEVAE_DATA folder, creating it."""
    monkeypatch.setattr(data, "fetch", lambda url, timeout=60.0: pytest.fail("downloaded"))
    mistyped = tmp_path / "shraed" / "data"
    monkeypatch.setenv("AEVAE_DATA", str(mistyped))
    with pytest.raises(DataError) as info:
        load_mnist("test")
    message = str(info.value)
    assert f"AEVAE_DATA is set to {mistyped}, which is not a folder" in message
    assert "unset AEVAE_DATA to download them into" in message
    assert not (tmp_path / "shraed").exists()


def test_the_missing_file_error_names_the_folders_and_says_aevae_data_is_set(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("AEVAE_DATA", str(empty))
    with pytest.raises(DataError) as info:
        load_mnist("test", download=False)
    message = str(info.value)
    assert str(empty) in message and "AEVAE_DATA is already set (to " in message
    monkeypatch.delenv("AEVAE_DATA")
    with pytest.raises(DataError, match="Set the AEVAE_DATA environment variable"):
        load_mnist("test", download=False)
