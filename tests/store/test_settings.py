"""Settings JSON file: round trip, tolerance of bad files, bytes helpers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fcdesk.store import paths
from fcdesk.store.settings import SCHEMA_VERSION, Settings

VALUES = {
    "tenant": "contoso.onmicrosoft.com",
    "count": 3,
    "ratio": 0.25,
    "enabled": True,
    "nothing": None,
    "recent": ["a", "ü ✓", "<b>x</b>"],
    "nested": {"columns": {"name": 200, "hidden": [1, 2]}},
}


def test_default_path_is_in_the_config_dir(isolated_user_dirs: dict[str, Path]) -> None:
    settings = Settings()
    assert (
        settings.path
        == paths.config_dir() / "settings.json"
        == isolated_user_dirs["config"] / "settings.json"
    )
    assert settings.get("anything", "default") == "default"
    assert not isolated_user_dirs["config"].exists(), "reading settings must not create folders"


def test_round_trip(isolated_user_dirs: dict[str, Path]) -> None:
    settings = Settings()
    for key, value in VALUES.items():
        settings.set(key, value)
    settings.save()

    reloaded = Settings()

    assert {key: reloaded.get(key) for key in VALUES} == VALUES
    assert reloaded.keys() == sorted(VALUES)
    on_disk = json.loads(settings.path.read_text(encoding="utf-8"))
    assert on_disk["schema_version"] == SCHEMA_VERSION == 1
    assert on_disk["values"] == VALUES
    assert [p.name for p in settings.path.parent.iterdir()] == ["settings.json"]  # no temp left


def test_get_and_set_copy_values(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.json")
    value = {"list": [1]}
    settings.set("k", value)
    value["list"].append(2)
    settings.get("k")["list"].append(3)

    assert settings.get("k") == {"list": [1]}


def test_tuples_are_stored_as_lists(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.json")
    settings.set("size", (800, 600))
    assert settings.get("size") == [800, 600]


@pytest.mark.parametrize(
    "value",
    [b"bytes", {1: "int key"}, float("nan"), float("inf"), object(), {"deep": [set()]}],
    ids=["bytes", "int-key", "nan", "inf", "object", "nested-set"],
)
def test_non_json_values_are_refused(tmp_path: Path, value: object) -> None:
    settings = Settings(tmp_path / "s.json")
    with pytest.raises(TypeError):
        settings.set("k", value)
    assert settings.get("k") is None


def test_remove(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.json")
    settings.set("k", 1)
    settings.remove("k")
    settings.remove("never there")
    assert settings.get("k", "gone") == "gone"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2, 3]",
        '{"values": {}}',
        '{"schema_version": "1", "values": {}}',
        '{"schema_version": 1, "values": [1]}',
        '{"schema_version": 2, "values": {"from": "the future"}}',
        b"\xff\xfe garbage",
    ],
    ids=["bad-json", "not-object", "no-version", "string-version", "values-not-object", "newer", "not-utf8"],
)
def test_unusable_file_is_moved_aside_and_defaults_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes
) -> None:
    path = tmp_path / "settings.json"
    raw = content if isinstance(content, bytes) else content.encode()
    path.write_bytes(raw)

    with caplog.at_level(logging.WARNING, logger="fcdesk.store.settings"):
        settings = Settings(path)

    assert settings.keys() == []
    assert not path.exists()
    (aside,) = tmp_path.glob("settings.json.bad-*")
    assert aside.read_bytes() == raw, "the bad file is kept for the user, unchanged"
    assert any("settings.json" in record.getMessage() for record in caplog.records)
    assert all(record.levelno == logging.WARNING for record in caplog.records)

    settings.set("fresh", True)
    settings.save()
    assert Settings(path).get("fresh") is True
    assert aside.exists()


def test_two_bad_files_in_the_same_second_do_not_collide(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{bad")
    Settings(path)
    path.write_text("{bad again")
    Settings(path)

    assert sorted(p.read_text() for p in tmp_path.glob("settings.json.bad-*")) == ["{bad", "{bad again"]


def test_missing_file_gives_defaults_silently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        settings = Settings(tmp_path / "nope" / "settings.json")
    assert settings.keys() == []
    assert caplog.records == []


def test_bytes_helpers_round_trip_through_base64(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    geometry = bytes(range(256)) * 3
    settings = Settings(path)
    settings.set_bytes("window/geometry", geometry)
    settings.set_bytes("empty", b"")
    settings.save()

    reloaded = Settings(path)

    assert reloaded.get_bytes("window/geometry") == geometry
    assert reloaded.get_bytes("empty") == b""
    assert isinstance(reloaded.get("window/geometry"), str)  # stored as text in the JSON file
    assert reloaded.get_bytes("missing") is None
    assert reloaded.get_bytes("missing", b"dflt") == b"dflt"


def test_get_bytes_on_a_non_base64_value_gives_the_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(tmp_path / "s.json")
    settings.set("state", "this is not base64!")
    settings.set("number", 5)

    with caplog.at_level(logging.WARNING, logger="fcdesk.store.settings"):
        assert settings.get_bytes("state", b"d") == b"d"
    assert settings.get_bytes("number", b"n") == b"n"
    assert "state" in caplog.text
