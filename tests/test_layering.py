"""Layering: the import-linter contracts in pyproject.toml hold, checked twice.

1. ``lint-imports`` runs the contracts of ``[tool.importlinter]`` on the real tree.
2. An independent AST walk of ``fcdesk/core`` forbids GUI/SDK/network/keyring imports, so the
   core stays pure even if the linter config were broken or emptied.

Each check is also run against a copy of the tree with a planted violation, to prove that it
can fail at all.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "fcdesk" / "core"
LAYERS = ("core", "store", "models", "views", "azure")

#: Top-level modules that fcdesk.core must never import, directly or by a relative/dynamic import.
CORE_FORBIDDEN = frozenset({"PySide6", "shiboken6", "qasync", "azure", "aiohttp", "keyring"})
#: fcdesk layers above core.
CORE_FORBIDDEN_INTERNAL = ("fcdesk.store", "fcdesk.models", "fcdesk.views", "fcdesk.azure")


# ----------------------------------------------------------------------------------- import-linter
def run_lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("lint-imports")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run(
        [*command, "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env={
            **os.environ,
            "PYTHONPATH": str(root),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_linter_contracts_are_kept() -> None:
    missing = [layer for layer in LAYERS if not (REPO / "fcdesk" / layer / "__init__.py").exists()]
    assert not missing, f"layer packages named by the contracts do not exist (yet): {missing}"
    result = run_lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout, result.stdout


def copy_tree(tmp_path: Path) -> Path:
    """The package's .py files and pyproject.toml, with every layer package present."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "fcdesk", root / "fcdesk", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for layer in LAYERS:
        (root / "fcdesk" / layer).mkdir(exist_ok=True)
        (root / "fcdesk" / layer / "__init__.py").touch()
    return root


def test_import_linter_catches_planted_violations(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    (root / "fcdesk" / "core" / "_planted.py").write_text("import PySide6.QtCore\n")
    (root / "fcdesk" / "store" / "_planted.py").write_text("from fcdesk.views import thing\n")
    (root / "fcdesk" / "models" / "_planted.py").write_text("import azure.identity\n")

    result = run_lint_imports(root)

    assert result.returncode != 0
    assert "0 kept, 4 broken" in result.stdout, result.stdout
    for planted in ("fcdesk.core._planted -> PySide6", "fcdesk.store._planted -> fcdesk.views"):
        assert planted in result.stdout


def test_import_linter_catches_an_indirect_core_violation(tmp_path: Path) -> None:
    """core -> (another fcdesk module) -> keyring is caught: the core contract is strict."""
    root = copy_tree(tmp_path)
    (root / "fcdesk" / "_helper.py").write_text("import keyring\n")
    (root / "fcdesk" / "core" / "_planted.py").write_text("from fcdesk import _helper\n")

    result = run_lint_imports(root)

    assert result.returncode != 0
    assert "fcdesk.core is pure Python" in result.stdout and "BROKEN" in result.stdout


# ------------------------------------------------------------------------------------ AST walk
def forbidden_imports(package_dir: Path, package: str) -> list[str]:
    """Every import in ``package_dir`` (recursively) of a CORE_FORBIDDEN / upper-layer module."""
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir).with_suffix("")
        parts = [package, *relative.parts]
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            bad = [name for name in imported_names(node, module, is_package) if is_forbidden(name)]
            if bad:  # one problem per import statement
                problems.append(f"{path.relative_to(package_dir.parent)}:{node.lineno}: {bad[0]}")
    return problems


def is_forbidden(name: str) -> bool:
    return name.split(".")[0] in CORE_FORBIDDEN or any(
        name == layer or name.startswith(layer + ".") for layer in CORE_FORBIDDEN_INTERNAL
    )


def imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level == 0:
            base = node.module or ""
        else:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        return [base, *(f"{base}.{alias.name}" for alias in node.names)]
    # importlib.import_module("x") / __import__("x") with a literal name
    if (
        isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and (
            (isinstance(node.func, ast.Name) and node.func.id in {"__import__", "import_module"})
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
        )
    ):
        return [node.args[0].value]
    return []


def test_core_imports_no_gui_sdk_network_or_keyring() -> None:
    assert (CORE / "records.py").exists()
    assert forbidden_imports(CORE, "fcdesk.core") == []


@pytest.mark.parametrize(
    "source",
    [
        "import PySide6\n",
        "from PySide6.QtCore import QObject\n",
        "import shiboken6 as sb\n",
        "import qasync\n",
        "from azure.identity.aio import DefaultAzureCredential\n",
        "import aiohttp.web\n",
        "def f():\n    import keyring\n",
        "import importlib\nimportlib.import_module('PySide6.QtWidgets')\n",
        "__import__('keyring')\n",
        "from .. import store\n",
        "from ..views.base import View\n",
        "import fcdesk.azure.client\n",
        "from fcdesk import models\n",
    ],
)
def test_ast_check_catches_planted_violations(tmp_path: Path, source: str) -> None:
    core = tmp_path / "fcdesk" / "core"
    (core / "sub").mkdir(parents=True)
    (core / "__init__.py").write_text("")
    (core / "fine.py").write_text("import json\nfrom fcdesk.core import records\nfrom . import records\n")
    (core / "sub" / "planted.py").write_text("from ... import core\n" + source.replace("from ..", "from ..."))

    problems = forbidden_imports(core, "fcdesk.core")

    assert len(problems) == 1, problems
    assert problems[0].startswith("core/sub/planted.py:")
