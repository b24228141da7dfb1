"""No module imports another module's private names: each layer uses only public interfaces.

A name starting with one underscore is private to its module. Reaching into it from elsewhere
(``from analytics.metrics.timepoints import _baseline`` or ``timepoints._baseline``) couples two
modules through a detail neither promised; make the name public where it is defined instead.
The layering itself is checked by import-linter (``make lint``, contracts in pyproject.toml).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("analytics", "store", "ui", "cli", "bench", "charts", "documents", "app_pages", "tests")
PROJECT = {"analytics", "store", "ui", "cli", "bench", "charts", "documents", "tests"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _files() -> list[Path]:
    files = [ROOT / "dashboard.py"]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if ".venv" not in f.parts]


def private_uses(path: Path) -> list[str]:
    """Each ``from project.module import _name`` and ``module._name`` of a project module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()  # local names bound to project modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PROJECT:
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)  # may be a module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {base.id}...{node.attr}")
    return found


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_of_another_module_is_used(path):
    assert private_uses(path) == []


def test_the_check_finds_both_forms(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from analytics.metrics import timepoints\n"
        "from analytics.metrics.timepoints import _baseline, baseline_scores\n"
        "timepoints._valid_coded(1)\n"
        "timepoints.__name__\n"
        "import os\nos._exit\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert private_uses(sample) == [
            "sample.py:2: _baseline",
            "sample.py:3: timepoints..._valid_coded",
        ]
    finally:
        ROOT = saved
