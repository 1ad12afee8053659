#!/usr/bin/env bash
# Fetch the JavaScript that the built book needs, so that its pages never load from a CDN.
#
#   MathJax 3 (renders the math), require.js and the ipywidgets embed manager (render the
#   widgets stored in executed notebooks), and anywidget's front-end (the AMD module that the
#   embed manager loads for the book's explorers, aevae_lib/explorers.py, whose own
#   JavaScript travels inside the widget state). They come from the npm registry with `npm pack`,
#   are checked against the integrity hashes pinned below, and are unpacked into
#   _vendor/site/vendor/, which _config.yml serves with `html_extra_path` (so they land in
#   _build/html/vendor/). They are deliberately NOT under _static/: Jupyter Book adds every
#   .js file under _static to every page.
#
#   reveal.js (the slide decks of `make slides`) goes to _vendor/slides/reveal.js/ instead:
#   tools/slides.py copies it, with MathJax and require.js, next to the decks.
#
# Idempotent: does nothing when _vendor/ already holds exactly these versions.
# Usage: tools/vendor_js.sh [--force]
set -euo pipefail

cd "$(dirname "$0")/.."
dest=_vendor
site=$dest/site/vendor
slides=$dest/slides

# name@version and the sha512 integrity that the npm registry publishes for its tarball.
# The html-manager version must match ipywidgets 8 (its `__html_manager_version__` is ^1.0.1).
packages=(
  "mathjax@3.2.2 sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
  "requirejs@2.3.8 sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw=="
  "@jupyter-widgets/html-manager@1.0.15 sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA=="
  # the same minor version as the Python package anywidget (pyproject.toml)
  "anywidget@0.11.0 sha512-LHZgW2j5UjyerZSZcO+BtZPXGMSORQV2bUT480hOR5x/BXS8sOradi/71amJfMueSEnKX0dqPwTfsOGHTsyZpQ=="
  # the last 4.x: nbconvert's reveal template is written for reveal.js 4
  "reveal.js@4.6.1 sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw=="
)

stamp=$dest/VERSIONS
wanted=$(printf '%s\n' "${packages[@]}")
if [[ "${1:-}" != "--force" && -f $stamp && "$(cat "$stamp")" == "$wanted" \
      && -f $site/mathjax/es5/tex-mml-chtml.js && -f $site/requirejs/require.js \
      && -f $site/jupyter-widgets/embed-amd.js && -f $site/anywidget/index.js \
      && -f $slides/reveal.js/dist/reveal.js ]]; then
  echo "vendor_js: _vendor/ is up to date"
  exit 0
fi

command -v npm >/dev/null || {
  echo "vendor_js: npm is needed to fetch MathJax, require.js and the widget manager" >&2
  echo "           (Debian/Ubuntu: apt-get install npm)" >&2
  exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for entry in "${packages[@]}"; do
  spec=${entry% *}
  integrity=${entry#* }
  # `npm pack --json` downloads the tarball and reports the integrity of what it got.
  got=$(cd "$tmp" && npm pack "$spec" --json --silent \
        | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["filename"], d["integrity"])')
  file=${got% *}
  if [[ "${got#* }" != "$integrity" ]]; then
    echo "vendor_js: integrity mismatch for $spec" >&2
    exit 1
  fi
  name=${spec%@*}
  mkdir -p "$tmp/${name//\//_}"
  tar -xzf "$tmp/$file" -C "$tmp/${name//\//_}"
done

rm -rf "$dest/site" "$slides"
mkdir -p "$site/mathjax" "$site/requirejs" "$site/jupyter-widgets" "$site/anywidget"
# MathJax: the whole es5/ tree, because components, TeX extensions and fonts are loaded on
# demand relative to tex-mml-chtml.js.
cp -r "$tmp/mathjax/package/es5" "$site/mathjax/"
cp "$tmp/mathjax/package/LICENSE" "$site/mathjax/LICENSE"
cp "$tmp/requirejs/package/require.js" "$site/requirejs/"
# The widget manager: embed-amd.js plus the icon fonts it loads from its own folder.
hm="$tmp/@jupyter-widgets_html-manager/package"
cp "$hm/dist/embed-amd.js" "$site/jupyter-widgets/"
find "$hm/dist" -maxdepth 1 -type f \( -name '*.woff' -o -name '*.woff2' -o -name '*.ttf' \
     -o -name '*.eot' -o -name '*.svg' \) -exec cp {} "$site/jupyter-widgets/" \;
# anywidget: one self-contained AMD module (it defines AnyModel and AnyView on top of
# @jupyter-widgets/base, which the embed manager provides); widget_embed.py maps the module
# name "anywidget" to it, so the manager never falls back to its CDN.
cp "$tmp/anywidget/package/dist/index.js" "$site/anywidget/index.js"
cp "$tmp/anywidget/package/LICENSE" "$site/anywidget/LICENSE"

# reveal.js: its built files and the speaker-notes plugin (the decks use no other plugin).
mkdir -p "$slides/reveal.js/plugin"
cp -r "$tmp/reveal.js/package/dist" "$slides/reveal.js/"
cp -r "$tmp/reveal.js/package/plugin/notes" "$slides/reveal.js/plugin/"
cp "$tmp/reveal.js/package/LICENSE" "$slides/reveal.js/LICENSE"

printf '%s\n' "${packages[@]}" > "$stamp"
echo "vendor_js: vendored into $site ($(du -sh "$site" | cut -f1))"
