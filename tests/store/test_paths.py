"""App folders: platformdirs by default, environment overrides, nothing created on lookup."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from fcdesk.store import paths


def test_env_overrides_and_subfolders(isolated_user_dirs: dict[str, Path]) -> None:
    assert paths.data_dir() == isolated_user_dirs["data"]
    assert paths.config_dir() == isolated_user_dirs["config"]
    assert paths.log_dir() == isolated_user_dirs["data"] / "logs"
    assert paths.snapshot_dir() == isolated_user_dirs["data"] / "snapshots"
    assert not isolated_user_dirs["data"].exists() and not isolated_user_dirs["config"].exists()


def test_platformdirs_without_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FCDESK_DATA_DIR")
    monkeypatch.setenv("FCDESK_CONFIG_DIR", "")  # empty counts as unset
    # Keep platformdirs itself away from the real home folder too.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))

    assert paths.data_dir() == platformdirs.user_data_path("fcdesk", appauthor=False)
    assert paths.config_dir() == platformdirs.user_config_path("fcdesk", appauthor=False)
    assert paths.data_dir().name == "fcdesk"
    assert not paths.data_dir().exists() and not paths.config_dir().exists()


def test_relative_and_home_overrides_become_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FCDESK_DATA_DIR", "~/portable-data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FCDESK_CONFIG_DIR", "relative-config")

    assert paths.data_dir() == tmp_path / "portable-data"
    assert paths.config_dir() == tmp_path / "relative-config"
