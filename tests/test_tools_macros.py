"""tools/macros.py: every macro documented, and one meaning per symbol on the notation page."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import macros  # noqa: E402


def test_the_notation_page_documents_every_macro_and_lists_each_symbol_once():
    assert macros.check_documented(macros.load_macros()) == []
    assert macros.symbols_defined_twice() == []


def test_a_symbol_defined_in_two_rows_is_found():
    page = (
        "| $D$ | pixels | 1 |\n"
        "| $\\bar{\\x}$, $\\boldsymbol{\\Sigma}_{\\x}$ | mean and covariance | 1 |\n"
        "| $\\lambda_j$ | an eigenvalue | 1 |\n"
        "| $D$ | distortion | 9 |\n"
        "| $\\lambda_j, \\mathbf{u}_{j}$ | again | 1 |\n"
    )
    twice = macros.symbols_defined_twice(page)
    assert twice == ["D (lines 1 and 4)", "\\lambda_j (lines 3 and 5)"]


def test_commas_inside_braces_do_not_split_a_symbol():
    assert macros._top_level_split("p_{\\theta}(\\x, \\z), k") == ["p_{\\theta}(\\x, \\z)", " k"]
