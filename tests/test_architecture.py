"""The one rule of the architecture: widgets -> lab, never back."""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UI_PACKAGES = {"panel", "ipywidgets", "plotly", "bokeh", "holoviews", "widgets", "param_ui", "streamlit"}


def _imported_top_level(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_lab_sources_import_no_ui_package():
    offenders = {}
    for path in sorted((REPO / "lab").rglob("*.py")):
        bad = _imported_top_level(path) & UI_PACKAGES
        if bad:
            offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert offenders == {}, f"lab/ must not import UI packages: {offenders}"


def test_importing_every_lab_module_loads_no_ui_package():
    # A runtime check as well, for imports hidden behind importlib or re-exports.
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / "lab").rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(UI_PACKAGES)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "", f"importing lab pulled in UI packages: {out.stdout.strip()}"


def test_the_checker_detects_a_ui_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom panel import widgets\n")
    assert _imported_top_level(bad) & UI_PACKAGES == {"panel"}
