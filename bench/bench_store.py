"""Snapshot file speed and size: 400,000 records of ~600 bytes (about 100,000 deployments' worth)."""

from __future__ import annotations

import gc
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fcdesk.core.records import Kind, RawRecord, SnapshotMeta, Source
from fcdesk.store.snapshot import read_meta, read_snapshot, write_snapshot

COUNT = 400_000
BODY_SIZE = 600


def records(count: int = COUNT) -> list[RawRecord]:
    kinds = (Kind.DEPLOYMENT, Kind.POLICY_STATE, Kind.ASSESSMENT, Kind.RAI_POLICY)
    filler = "x" * (BODY_SIZE - 252)
    result = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        subscription = f"/subscriptions/{index % 50:08d}-0000-0000-0000-000000000000"
        record_id = (
            f"{subscription}/resourceGroups/rg-{index % 300}/providers/Microsoft.CognitiveServices"
            f"/accounts/acct-{index // 4 % 5000}/{kind}/item-{index}"
        )
        body = {
            "id": record_id,
            "name": f"item-{index}",
            "properties": {"model": {"format": "OpenAI", "name": "gpt-4o"}, "capacity": index % 1000},
            "filler": filler,
        }
        result.append(RawRecord(kind, record_id, body, subscription))
    return result


def main() -> None:
    data = records()
    meta = SnapshotMeta(captured_at=datetime.now(UTC), source=Source.LIVE)
    with tempfile.TemporaryDirectory(prefix="fcdesk-bench-") as folder:
        path = Path(folder) / "bench.fcsnap"
        started = time.perf_counter()
        write_snapshot(path, meta, data)
        write_s = time.perf_counter() - started
        del data
        gc.collect()
        started = time.perf_counter()
        read_meta(path)
        meta_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        snapshot = read_snapshot(path)
        read_s = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        assert len(snapshot.records) == COUNT
    print(f"snapshot write ({COUNT} records, ~{BODY_SIZE} B bodies): {write_s:.2f} s")
    print(f"snapshot read_meta: {meta_ms:.1f} ms")
    print(f"snapshot read_snapshot (full verify): {read_s:.2f} s")
    print(f"snapshot file size: {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
