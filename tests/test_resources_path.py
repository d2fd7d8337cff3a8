"""resource_path() finds bundled files from a checkout/editable install, a wheel layout and a frozen app."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fcdesk import resources_path
from fcdesk.resources_path import resource_path, resources_dir

REPO = Path(__file__).resolve().parents[1]


def test_source_checkout_or_editable_install_uses_repo_resources() -> None:
    path = resource_path("README.md")
    assert path == REPO / "resources" / "README.md"
    assert path.is_file()


def test_installed_or_editable_package_is_found_through_importlib() -> None:
    spec = importlib.util.find_spec("fcdesk.resources")
    if spec is None:
        pytest.skip("fcdesk is not installed here (plain checkout): the fallback test covers it")
    assert spec.submodule_search_locations
    assert resources_dir() == Path(spec.submodule_search_locations[0])
    assert (importlib.resources.files("fcdesk.resources") / "README.md").is_file()


def test_nested_names_use_forward_slashes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(resources_path, "resources_dir", lambda: tmp_path)
    assert resource_path("icons/app.svg") == tmp_path / "icons" / "app.svg"


def test_frozen_app_uses_meipass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_path("demo.fcsnap") == tmp_path / "fcdesk" / "resources" / "demo.fcsnap"


def test_installed_wheel_layout_uses_the_package_folder(tmp_path: Path) -> None:
    """In site-packages there is no repo: the files sit in fcdesk/resources/ next to the code."""
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "fcdesk", site / "fcdesk", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "fcdesk" / "resources").mkdir()
    (site / "fcdesk" / "resources" / "__init__.py").touch()
    (site / "fcdesk" / "resources" / "README.md").write_text("installed copy")
    code = "from fcdesk.resources_path import resource_path; print(resource_path('README.md').read_text())"

    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "installed copy"


@pytest.mark.parametrize("name", ["", "/etc/passwd", "C:/Windows/x", "../pyproject.toml", "icons/../../x"])
def test_names_that_escape_the_folder_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a resource name"):
        resource_path(name)


def test_pyproject_ships_resources_inside_the_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools_config = config["tool"]["setuptools"]
    assert setuptools_config["package-dir"] == {"fcdesk.resources": "resources"}
    assert "*" in setuptools_config["package-data"]["fcdesk.resources"]
    assert '"fcdesk.resources"' in (REPO / "setup.py").read_text(encoding="utf-8")
    assert config["project"]["scripts"]["fcdesk"] == "fcdesk.__main__:main"
    assert config["project"]["gui-scripts"]["fcdesk-gui"] == "fcdesk.__main__:main"
    assert "PySide6-Essentials" in config["project"]["dependencies"]
    assert not any(
        dep.lower().startswith("pyside6 ") or dep.lower() == "pyside6"
        for dep in config["project"]["dependencies"]
    )
