"""What the browser suites share: headless Chromium (Debian's), found once per module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import check_book  # noqa: E402


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium executable; the test is skipped, with the fix, when it or Playwright is
    missing."""
    pytest.importorskip("playwright.sync_api")
    path = check_book.find_chromium()
    if path is None:
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return path
