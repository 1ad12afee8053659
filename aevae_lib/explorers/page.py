"""A page of its own: explorers (or any ipywidgets) as a standalone HTML file that runs offline.

One job: ``page_html``, the explorers outside the book. The page embeds only the widgets it is
given (and what they refer to) and loads the JavaScript that tools/vendor_js.sh vendors, so a
lecturer can open it from ``file://`` in a lecture hall, with no kernel and no network.

Owns: ``page_html``.

Used in: tests/browser/test_explorers_in_browser.py, benchmarks/explorer_latency.py.
"""

from __future__ import annotations

import html
import json


def page_html(widgets, vendor: str = "vendor", title: str = "Explorers") -> str:
    """A standalone HTML page that draws ``widgets`` (explorers or any ipywidgets) offline.

    ``vendor``: the folder (relative to the page, or a URL) that holds what
    tools/vendor_js.sh vendors: requirejs/require.js, jupyter-widgets/embed-amd.js and
    anywidget/index.js (the book's _build/html/vendor). The page works from file:// and over
    http with no network; a lecturer can open it in a lecture hall without a kernel.
    """
    from ipywidgets.embed import dependency_state, embed_data

    widgets = list(widgets)
    # only these widgets and what they refer to (embed_data alone takes every live widget)
    state = dependency_state(widgets, drop_defaults=False)
    data = embed_data(views=widgets, drop_defaults=False, state=state)
    state = json.dumps(data["manager_state"]).replace("</", "<\\/")
    views = "\n".join(
        '<div class="aevae-page-view"><script type="application/vnd.jupyter.widget-view+json">'
        f"{json.dumps(spec)}</script></div>"
        for spec in data["view_specs"]
    )
    config = json.dumps(
        {"paths": {"anywidget": f"{vendor}/anywidget/index", "@jupyter-widgets": f"{vendor}/jupyter-widgets",
                   "@jupyter-widgets/html-manager/dist": f"{vendor}/jupyter-widgets"}}
    )  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 60rem; }}</style>
<script>
window.__jupyter_widgets_assets_path__ = new URL({json.dumps(vendor + "/jupyter-widgets/")}, document.baseURI).href;
window.require = {config};
</script>
<script src="{vendor}/requirejs/require.js"></script>
<script src="{vendor}/jupyter-widgets/embed-amd.js"></script>
</head>
<body>
<h1>{html.escape(title)}</h1>
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
{views}
</body>
</html>
"""
