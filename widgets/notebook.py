"""One call that makes the study views work in a notebook, offline.

Every notebook starts with :func:`setup_notebook`. It loads Panel's extensions with their
JavaScript inlined into the notebook's output and its stylesheets served by the notebook's
own Jupyter server, so JupyterLab (or classic Jupyter) renders the views with no network:
the default would ask a CDN for Bokeh and Panel, and an offline browser would show blank
outputs. Background jobs need nothing more: in a notebook
:class:`~widgets.jobs.BackgroundJob` polls on the kernel's event loop (see Note [jobs in a
notebook] there), so progress, partial results and Stop reach the output as on a served page.
"""

from __future__ import annotations

import os
from typing import Any

import panel as pn
from panel.io.resources import CDN_DIST

from lab.device import describe_device
from widgets import figures

__all__ = ["EXTENSIONS", "local_dist_url", "setup_notebook", "smoke"]

# The Panel extensions the study views use (Plotly figures, Tabulator tables).
EXTENSIONS = ("plotly", "tabulator")


def local_dist_url() -> str:
    """Where this notebook's Jupyter server serves Panel's files (Panel's server extension)."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")  # "/" on a plain Jupyter server
    return prefix.rstrip("/") + "/panel-preview/static/extensions/panel/"


# Panel's modules that call patch_stylesheet(stylesheet, dist_url) on the stylesheets they link.
_PATCHING_MODULES = ("panel.io.resources", "panel.reactive")  # panel.theme imports it from resources when it runs


def _serve_stylesheets_locally() -> None:
    """Point every stylesheet Panel links from its CDN at the Jupyter server's own copy.

    Note [offline notebook]: with ``inline=True`` Panel inlines its JavaScript and the
    stylesheets of a view's first render, but models made or updated later (a figure pane
    re-rendered, a theme's sheets) still link ``cdn.holoviz.org``; offline they would come out
    unstyled, and online the request would leave the machine. Every such link passes through
    Panel's ``patch_stylesheet(stylesheet, dist_url)``, which rewrites it for the folder a
    document names (a served page names the server's own); a notebook's document names none,
    so the CDN stays. Panel's Jupyter server extension serves the same files under
    /panel-preview/static/extensions/panel/: in this kernel the rewrite goes there instead.
    """
    import importlib

    resources = importlib.import_module("panel.io.resources")
    original = getattr(resources.patch_stylesheet, "_ortholab_original", resources.patch_stylesheet)
    local = local_dist_url()

    def patch_stylesheet(stylesheet: Any, dist_url: str) -> None:
        original(stylesheet, local if dist_url == CDN_DIST else dist_url)

    patch_stylesheet._ortholab_original = original  # type: ignore[attr-defined]
    for name in _PATCHING_MODULES:
        module = importlib.import_module(name)
        if getattr(module, "patch_stylesheet", None) is not None:
            module.patch_stylesheet = patch_stylesheet


def setup_notebook(*, quiet: bool = False) -> None:
    """Load the views' extensions, inlined (no request leaves the machine), and say where experiments run."""
    pn.config.inline = True  # later panes' own resources are inlined too
    pn.extension(*EXTENSIONS, inline=True, notifications=False)
    _serve_stylesheets_locally()
    figures.IMAGES_AS_PNG = False  # Note [images in notebooks] in widgets.figures
    if not quiet:
        print("Experiments run on:", describe_device())


def smoke() -> bool:
    """True when the test command runs the notebooks small (ORTHOLAB_SMOKE=1)."""
    return os.environ.get("ORTHOLAB_SMOKE") == "1"
