#!/usr/bin/env bash
# Build the book with Jupyter Book, never from stale notebook outputs. Called by `make book`.
#
#   tools/build_book.sh OUT     builds into OUT/_build/html (OUT is "." for the full book)
#
# Jupyter Book re-executes a notebook only when its text changes, and Sphinx re-reads a page
# only when its source changes. Two cases would leave old outputs in the book, and this
# script forces a full rebuild for them:
#   - aevae_lib/*.py or constraints.txt changed since the outputs were made: the execution
#     cache is dropped, so every notebook runs again;
#   - the last build failed or was interrupted: every page is read again, so a notebook that
#     failed cannot slip through the next build without its warning (cached successful
#     executions are reused);
#   - the book's Sphinx extensions (book/_ext/*.py) changed: every page is written again
#     (Sphinx does not notice a changed extension; cached executions are reused).
set -euo pipefail

out=${1:?usage: tools/build_book.sh OUT}
cd "$(dirname "$0")/.."
build=$out/_build
lib_hash=$(find aevae_lib -name '*.py' | LC_ALL=C sort | xargs cat constraints.txt \
           | sha256sum | cut -c1-16)
ext_hash=$(find book/_ext -name '*.py' | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)

all=()
if [[ -d $build/html ]]; then
  if [[ "$(cat "$build/.aevae_lib-hash" 2>/dev/null)" != "$lib_hash" ]]; then
    echo "build_book: aevae_lib or constraints.txt changed; every notebook runs again"
    rm -rf "$build/.jupyter_cache"
    all=(--all)
  elif [[ ! -f $build/.last-build-ok ]]; then
    echo "build_book: the last build did not finish cleanly; reading every page again"
    all=(--all)
  elif [[ "$(cat "$build/.ext-hash" 2>/dev/null)" != "$ext_hash" ]]; then
    echo "build_book: book/_ext changed; writing every page again"
    all=(--all)
  fi
fi
mkdir -p "$build"
echo "$lib_hash" > "$build/.aevae_lib-hash"
echo "$ext_hash" > "$build/.ext-hash"
rm -f "$build/.last-build-ok"

# MPLBACKEND=Agg (common in CI) would stop Jupyter kernels from showing figures.
env -u MPLBACKEND .venv/bin/jupyter-book build . --path-output "$out" "${all[@]}" \
  -W -n --keep-going
touch "$build/.last-build-ok"

html=$(cd "$build/html" && pwd)
echo
echo "The book is in $html; open $html/index.html"
