"""The architecture: widgets -> lab, never back; and the four studies built the same way."""

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UI_PACKAGES = {"panel", "ipywidgets", "plotly", "bokeh", "holoviews", "widgets", "param_ui", "streamlit"}
STUDIES = ("householder", "alignment", "threephase", "odis")
# Shared lab modules (DESIGN.md "Inside lab/"); anything else at lab's top level is out of place.
SHARED_LAB = {"__init__", "checks", "command", "corpus", "device", "embed", "files", "paths", "progress", "runs",
              "seeding"}
ROOMS = ("__init__.py", "training.py", "experiment.py", "cli.py")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _imported_top_level(path: Path) -> set[str]:
    return {m.split(".")[0] for m in _imported_modules(path)}


def _notebook_sources(path: Path) -> str:
    import json

    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


# ---------------------------------------------------------------- the one rule
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


# ---------------------------------------------------------------- one study, one shape
def test_lab_top_level_holds_only_shared_modules_and_study_packages():
    modules = {p.stem for p in (REPO / "lab").glob("*.py")}
    packages = {p.name for p in (REPO / "lab").iterdir() if (p / "__init__.py").is_file()}
    assert modules - SHARED_LAB == set(), f"study code at lab's top level: {sorted(modules - SHARED_LAB)}"
    assert packages == set(STUDIES)


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_has_the_same_rooms(study):
    pkg = REPO / "lab" / study
    missing = [room for room in ROOMS if not (pkg / room).is_file()]
    assert missing == [], f"lab/{study}/ lacks {missing}"
    for name in (f"{study}.py", f"{study}_figures.py"):
        assert (REPO / "widgets" / name).is_file(), f"widgets/{name} is missing"


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_face_declares_all_and_exports_it(study):
    face = importlib.import_module(f"lab.{study}")
    assert isinstance(getattr(face, "__all__", None), (list, tuple)) and face.__all__, f"lab.{study} has no __all__"
    missing = [name for name in face.__all__ if not hasattr(face, name)]
    assert missing == [], f"lab.{study}.__all__ names what it does not define: {missing}"


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_has_one_preset_table_in_experiment(study):
    exp = importlib.import_module(f"lab.{study}.experiment")
    assert isinstance(getattr(exp, "PRESETS", None), Mapping) and exp.PRESETS, f"lab.{study}.experiment.PRESETS"
    # No other module of the study, its view, or a script keeps a table of presets of its own.
    pattern = re.compile(r"^[A-Z_]*(PRESET|CONFIGS)[A-Z_]*\s*[:=]", re.M)
    places = [*(REPO / "lab" / study).glob("*.py"), REPO / "widgets" / f"{study}.py", *(REPO / "scripts").glob("*.py")]
    offenders = [str(p.relative_to(REPO)) for p in places
                 if p.name != "experiment.py" or p.parent.name != study
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], f"preset tables outside lab/{study}/experiment.py: {offenders}"


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_cli_has_main(study):
    cli = importlib.import_module(f"lab.{study}.cli")
    assert callable(getattr(cli, "main", None))
    assert "run_command" in (REPO / "lab" / study / "cli.py").read_text(), "use lab.command.run_command"


def _face_violations(path: Path, text_imports: set[str]) -> list[str]:
    bad = []
    for mod in text_imports:
        parts = mod.split(".")
        # `ortholab train <study>` runs the study's own command room (DESIGN.md: cli -> lab.<study>.cli.main)
        if path == REPO / "widgets" / "cli.py" and parts[2:] == ["cli"]:
            continue
        if len(parts) >= 3 and parts[0] == "lab" and parts[1] in STUDIES:
            bad.append(f"{path.relative_to(REPO)} imports {mod}")
    return bad


def test_views_notebooks_and_scripts_import_only_the_study_faces():
    offenders = []
    for path in [p for folder in ("widgets", "scripts", "benchmarks") for p in (REPO / folder).glob("*.py")]:
        offenders += _face_violations(path, _imported_modules(path))
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        offenders += _face_violations(nb, _imported_modules_of_source(_notebook_sources(nb)))
    assert offenders == []


def _imported_modules_of_source(source: str) -> set[str]:
    names = set()
    for line in source.splitlines():
        m = re.match(r"\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", line)
        if m:
            names.add(m.group(1) or m.group(2))
    return names


def test_no_script_patches_sys_path():
    offenders = [str(p.relative_to(REPO)) for folder in ("scripts", "benchmarks", "tests", "widgets", "lab")
                 for p in (REPO / folder).rglob("*.py") if "sys.path" in p.read_text(encoding="utf-8")]
    offenders = [o for o in offenders if o != "tests/test_architecture.py"]
    assert offenders == [], f"the package is installed (pip -e .): no sys.path patches, found in {offenders}"


def test_every_page_is_a_study_view_registered_directly():
    from widgets.app import STUDIES as PAGES
    from widgets.common import StudyView

    assert [p.route for p in PAGES] == ["householder", "alignment", "threephase", "odis"]
    for page in PAGES:
        assert issubclass(page.view, StudyView), page.route
    assert "importlib" not in (REPO / "widgets" / "app.py").read_text()
    assert "importlib" not in (REPO / "widgets" / "cli.py").read_text()


def _dict_literal_keys(path: Path) -> list[set[str]]:
    return [{k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            for node in ast.walk(_tree(path)) if isinstance(node, ast.Dict)]


@pytest.mark.parametrize("study", STUDIES)
def test_views_bind_one_way_and_build_no_figures(study):
    view = REPO / "widgets" / f"{study}.py"
    text = view.read_text(encoding="utf-8")
    # Figures are built in widgets/<study>_figures.py, not in the view.
    figs = [keys for keys in _dict_literal_keys(view) if {"data", "layout"} <= keys or "type" in keys and "x" in keys]
    assert figs == [], f"widgets/{study}.py builds figure dicts itself: {figs}"
    # One binding idiom: param.depends methods (watch=True for side effects), pn.Param controls.
    for idiom in (".param.watch(", "from_param(", "BackgroundJob("):
        assert idiom not in text, f"widgets/{study}.py uses {idiom!r}; see widgets/common.py"
    for flag in ("_busy", "_token", "_curve_pending", "_reverting"):
        assert not re.search(rf"\bself\.{flag}\b", text), f"widgets/{study}.py keeps the guard flag {flag}"


@pytest.mark.parametrize("study", STUDIES)
def test_figure_modules_are_pure(study):
    path = REPO / "widgets" / f"{study}_figures.py"
    assert _imported_top_level(path) & {"panel", "param", "bokeh", "torch"} == set(), \
        f"widgets/{study}_figures.py must be pure functions over plain data"
    assert "def _layout" not in path.read_text(), "use widgets.figures.layout"


@pytest.mark.parametrize("study", STUDIES)
def test_tests_mirror_the_study(study):
    assert (REPO / "tests" / "lab" / study).is_dir(), f"tests/lab/{study}/ is missing"
    assert (REPO / "tests" / "widgets" / f"test_{study}_view.py").is_file()
    assert (REPO / "tests" / "widgets" / f"test_{study}_figures.py").is_file()
