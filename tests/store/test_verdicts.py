"""Folded policy states stored in a snapshot: the same inventory as folding the raw states, or a fallback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fcdesk.core.demo import generate
from fcdesk.core.inventory import Inventory
from fcdesk.core.records import Kind, RawRecord
from fcdesk.store.snapshot import CorruptSnapshotError, open_snapshot, read_snapshot, write_snapshot


def _inventories(path: Path) -> tuple[Inventory, Inventory, list | None]:
    with open_snapshot(path, verdicts=True) as reader:
        fast = Inventory.build(reader.meta, reader.records, verdicts=reader.verdicts)
        stored = reader.verdicts
    with open_snapshot(path) as reader:
        raw = Inventory.build(reader.meta, reader.records)
    return fast, raw, stored


def test_stored_verdicts_give_the_same_inventory_as_the_raw_states(tmp_path: Path) -> None:
    path = tmp_path / "demo.fcsnap"
    meta, records = generate(scale=2, seed=3)
    write_snapshot(path, meta, records)
    fast, raw, stored = _inventories(path)
    assert stored is not None and len(stored) > 0
    assert fast._verdicts == raw._verdicts  # noqa: SLF001 - the very thing under test
    assert fast._evaluated_assignments == raw._evaluated_assignments  # noqa: SLF001
    assert fast.state_count == raw.state_count == sum(1 for r in records if r.kind == Kind.POLICY_STATE)
    assert [(r.policy.id, r.status, r.violating, r.total, r.as_of) for r in fast.policy_rows()] == [
        (r.policy.id, r.status, r.violating, r.total, r.as_of) for r in raw.policy_rows()
    ]
    assert [a.disagrees for a in fast.asset_rows()] == [a.disagrees for a in raw.asset_rows()]
    # the raw states are still in the file for anyone who reads everything
    assert sum(1 for r in read_snapshot(path).records if r.kind == Kind.POLICY_STATE) == fast.state_count


def test_a_malformed_state_means_no_stored_verdicts_and_the_error_is_still_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad-state.fcsnap"
    meta, records = generate(scale=1)
    records = [*records, RawRecord(Kind.POLICY_STATE, "broken", {"complianceState": "NonCompliant"}, "/subscriptions/x")]
    write_snapshot(path, meta, records)
    fast, raw, stored = _inventories(path)
    assert stored is None
    assert [e.scope for e in fast.errors] == ["/subscriptions/x"] == [e.scope for e in raw.errors]
    assert fast._verdicts == raw._verdicts  # noqa: SLF001


def test_verdicts_of_another_version_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "old.fcsnap"
    write_snapshot(path, *generate(scale=1))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'verdicts_version'")
    fast, raw, stored = _inventories(path)
    assert stored is None
    assert fast._verdicts == raw._verdicts and fast.state_count == raw.state_count > 0  # noqa: SLF001


def test_tampered_verdicts_are_reported_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "tampered.fcsnap"
    write_snapshot(path, *generate(scale=1))
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM verdicts WHERE rowid = (SELECT min(rowid) FROM verdicts)")
    with pytest.raises(CorruptSnapshotError) as err, open_snapshot(path, verdicts=True) as reader:
        list(reader.records)
    assert "tampered.fcsnap" in err.value.user_message
