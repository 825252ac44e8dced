"""Every Examples block in lab runs, and every estimator has one.

Estimators follow scikit-learn habits (DESIGN.md): typed numpydoc with shapes and one
runnable Examples block; this runs those blocks with doctest.
"""

import doctest
import importlib
import inspect
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    for p in (REPO / "lab").rglob("*.py")
)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} example(s) failed in {name}"


def _estimators():
    """Classes in lab with a fit method (the scikit-learn shape), defined where they live."""
    found = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and callable(getattr(cls, "fit", None)) and not cls_name.startswith("_"):
                found[f"{name}.{cls_name}"] = cls
    return found


ESTIMATORS = _estimators()


def test_estimators_were_found():
    assert "lab.alignment.maps.ProcrustesAligner" in ESTIMATORS
    assert "lab.odis.selector.OrthogonalSelector" in ESTIMATORS


@pytest.mark.parametrize("qualname", sorted(ESTIMATORS))
def test_every_estimator_documents_its_input_and_has_an_example(qualname):
    cls = ESTIMATORS[qualname]
    doc = inspect.getdoc(cls) or ""
    fit_doc = inspect.getdoc(cls.fit) or ""
    assert "Examples" in doc and ">>>" in doc, f"{qualname}: one runnable Examples block in the class docstring"
    both = doc + "\n" + fit_doc
    assert "Parameters\n----------" in both and " : " in both, f"{qualname}: typed numpydoc parameters"
    takes_arrays = any(p in inspect.signature(cls.fit).parameters for p in ("X", "Y", "scores", "features"))
    if takes_arrays:
        assert "of shape (" in both, f"{qualname}: array inputs typed with shapes ('X : array-like of shape (n, d)')"
