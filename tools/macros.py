"""The book's LaTeX macros, read from their one definition in _config.yml.

    python tools/macros.py            # print a Markdown cell that defines them (for a notebook)
    python tools/macros.py --latex    # print them as LaTeX \\newcommand lines (for slides, PDF)
    python tools/macros.py --check    # fail unless book/notation.md documents every macro
                                      # and lists each symbol once

The book gets the macros from MathJax's configuration. JupyterLab and Colab do not read
that configuration, so a notebook that uses the macros starts with the printed Markdown
cell, tagged `remove-cell` so that the book does not show it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load_macros() -> dict[str, str]:
    """Return {name: definition} from sphinx.config.mathjax3_config.tex.macros."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]


def newcommands(macros: dict[str, str]) -> list[str]:
    return [f"\\newcommand{{\\{name}}}{{{body}}}" for name, body in macros.items()]


def check_documented(macros: dict[str, str]) -> list[str]:
    """Names of macros that book/notation.md does not mention as `\\name`."""
    text = (ROOT / "book" / "notation.md").read_text(encoding="utf-8")
    return [name for name in macros if not re.search(rf"`\\{name}`", text)]


def symbols_defined_twice(text: str | None = None) -> list[str]:
    """Symbols that two rows of book/notation.md's tables define (one meaning per symbol).

    A row defines the symbols in its first cell: each ``$...$`` there, split at commas outside
    braces and parentheses (``$\\bar{\\x}$, $\\boldsymbol{\\Sigma}_{\\x}$`` defines two). Spaces are ignored.
    """
    if text is None:
        text = (ROOT / "book" / "notation.md").read_text(encoding="utf-8")
    seen: dict[str, int] = {}
    twice = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("| $"):
            continue
        first = line.split(" | ")[0][2:]
        for math in re.findall(r"\$([^$]+)\$", first):
            for symbol in _top_level_split(math):
                key = re.sub(r"\s+", "", symbol)
                if key in seen:
                    twice.append(f"{symbol.strip()} (lines {seen[key]} and {number})")
                else:
                    seen[key] = number
    return twice


def _top_level_split(math: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(math):
        depth += ch in "{("
        depth -= ch in "})"
        if ch == "," and depth == 0:
            parts.append(math[start:i])
            start = i + 1
    parts.append(math[start:])
    return [p for p in parts if p.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--latex", action="store_true", help="print LaTeX lines")
    group.add_argument("--check", action="store_true", help="check book/notation.md")
    args = parser.parse_args()

    macros = load_macros()
    if args.check:
        missing = check_documented(macros)
        if missing:
            print("book/notation.md does not document: " + ", ".join(missing), file=sys.stderr)
            return 1
        twice = symbols_defined_twice()
        if twice:
            print("book/notation.md defines a symbol twice: " + "; ".join(twice), file=sys.stderr)
            return 1
        print(f"macros: all {len(macros)} documented in book/notation.md; no symbol listed twice")
        return 0
    lines = newcommands(macros)
    print("\n".join(lines) if args.latex else "$$\n" + "\n".join(lines) + "\n$$")
    return 0


if __name__ == "__main__":
    sys.exit(main())
