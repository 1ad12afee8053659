"""Sphinx extension: let the embedded ipywidgets draw offline, fonts and all, without errors.

The widgets of an executed notebook are drawn by @jupyter-widgets/html-manager 1.x (the
version that matches ipywidgets 8), vendored by tools/vendor_js.sh and named in _config.yml's
``nb_ipywidgets_js``. Two of its assumptions do not hold in this book, and the real-browser
test (tests/browser/check_book.py) fails on both:

1. **Icon fonts.** Each of its AMD modules loads fonts from the folder of its own module
   address, which require.js derives from the *page's* folder
   (``notebooks/@jupyter-widgets/<hash>.woff2``, ``.../html-manager/dist/<hash>.woff2``:
   404). require.js ``paths`` entries map ``@jupyter-widgets`` and the manager's own
   ``@jupyter-widgets/html-manager/dist`` to the vendored folder, where vendor_js.sh puts the
   fonts. (``window.__jupyter_widgets_assets_path__``, the manager's own setting, comes too
   late for the stylesheets that name the fonts; it is set as well, for anything loaded later.)
2. **MathJax.** It typesets every widget label with MathJax 2's API,
   ``MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])``. The book loads MathJax 3, which
   has no ``Hub``, so every labelled slider throws "Cannot read properties of undefined
   (reading 'Queue')". The script maps that call onto MathJax 3's ``typesetPromise`` at
   DOMContentLoaded: after the deferred MathJax script has defined ``window.MathJax``, and
   before the manager draws the widgets (on the window's load event).

3. **anywidget.** The book's explorers (aevae_lib/explorers.py) are anywidgets: their state
   names the AMD module "anywidget", which the manager asks require.js for and, failing that,
   fetches from a CDN. The ``paths`` entry ``anywidget`` points require.js at the copy that
   vendor_js.sh puts beside the manager (``vendor/anywidget/index.js``), so the explorers draw
   offline, from file:// as well as over http. Their own JavaScript and weights travel in the
   widget state.

The script goes only into pages with widgets, before require.js (whose configuration it is).
"""

from __future__ import annotations

import json
import posixpath

from sphinx.application import Sphinx

SCRIPT = """
window.__jupyter_widgets_assets_path__ = new URL(ASSETS + "/", document.baseURI).href;
if (typeof window.require !== "function") {  // configuration read by require.js when it loads
  window.require = {paths: {"@jupyter-widgets": ASSETS, "@jupyter-widgets/html-manager/dist": ASSETS,
                            "anywidget": ANYWIDGET}};
}
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || !mj.startup) return;  // no MathJax 3 on this page, or MathJax 2
  mj.Hub = {Queue: function (job) {
    var el = Array.isArray(job) ? job[2] : undefined;
    mj.startup.promise
      .then(function () { return mj.typesetPromise(el ? [el] : undefined); })
      .catch(function (err) { console.warn("widget label typesetting:", err); });
  }};
});
"""


def assets_folder(ipywidgets_js: dict) -> str:
    """The folder of embed-amd.js from the site root, e.g. "vendor/jupyter-widgets".

    Script paths in ``nb_ipywidgets_js`` are relative to _static/ (Sphinx prefixes them).
    """
    for path in ipywidgets_js:
        if path.split("?")[0].endswith("embed-amd.js"):
            return posixpath.dirname(posixpath.normpath(posixpath.join("_static", path)))
    return "vendor/jupyter-widgets"


def script(ipywidgets_js: dict, pagename: str) -> str:
    """The script for the page ``pagename`` (e.g. "notebooks/04_vae")."""
    start = posixpath.dirname(pagename) or "."
    assets = posixpath.relpath(assets_folder(ipywidgets_js), start)
    anywidget = posixpath.join(posixpath.dirname(assets), "anywidget", "index")
    return SCRIPT.replace("ASSETS", json.dumps(assets)).replace("ANYWIDGET", json.dumps(anywidget))


def add_script(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    from myst_nb.sphinx_ext import NbMetadataCollector

    if app.builder.format != "html":
        return
    if "ipywidgets_state" in NbMetadataCollector.get_js_files(app.env, pagename):
        # priority 450: before require.js and the manager (myst-nb adds them at 500)
        body = script(app.config.nb_ipywidgets_js or {}, pagename)
        app.add_js_file(None, body=body, priority=450)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", add_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
