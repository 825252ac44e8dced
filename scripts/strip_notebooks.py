"""Remove outputs, execution counts and saved widget state from notebooks, in place.

    python scripts/strip_notebooks.py [NOTEBOOK ...]   (default: notebooks/*.ipynb)

The tracked notebooks stay output-free (tests/notebooks checks it): a run in JupyterLab
writes megabytes of inlined JavaScript into each output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def strip(path: Path) -> bool:
    """Strip one notebook; True if it changed."""
    text = path.read_text()
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb.get("metadata", {}).pop("widgets", None)
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new)
        return True
    return False


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((REPO / "notebooks").glob("*.ipynb"))
    for path in paths:
        print(("stripped " if strip(path) else "clean    ") + str(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
