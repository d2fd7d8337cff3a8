"""SIGKILL while a snapshot is being written over an existing one: the old file survives."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fcdesk.store.snapshot import STALE_TEMP_SECONDS, is_temp_name, read_snapshot, write_snapshot
from tests.helpers.snapshots import make_meta, make_records

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

# The child writes `count` ~600-byte records over `target`. With `stall`, the record generator
# stops halfway (after touching `marker`) so the kill lands mid-insert for certain; without it,
# the write runs flat out and is killed as soon as its temp file has grown past `kill_at` bytes.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from fcdesk.store.snapshot import write_snapshot
    from tests.helpers.snapshots import make_meta, many_records

    target, marker, count, stall = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

    def records():
        for index, record in enumerate(many_records(count)):
            if index == count // 2:
                marker.touch()
                while stall == "stall":
                    time.sleep(0.05)
            yield record

    write_snapshot(target, make_meta(label="replacement"), records())
    print("finished")
    """
)


def temp_files(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if is_temp_name(path.name)]


def start_child(target: Path, marker: Path, count: int, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), str(marker), str(count), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], child: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail(f"writer exited ({child.returncode}) before it could be killed:\n{out}\n{err}")
        if time.monotonic() > deadline:
            child.kill()
            child.communicate()
            pytest.fail("writer did not reach the kill point in time")
        time.sleep(0.005)


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize(
    ("mode", "count", "kill_at"),
    [
        ("stall", 100_000, 1 << 20),  # deterministic: killed while the insert is known to be half done
        ("run", 400_000, 48 << 20),  # a real 100k-deployment-sized write, killed at 48 MiB
    ],
)
def test_sigkill_mid_write_leaves_the_previous_snapshot_intact(
    tmp_path: Path, mode: str, count: int, kill_at: int
) -> None:
    target = tmp_path / "live.fcsnap"
    marker = tmp_path / "halfway"
    original_records = make_records()
    write_snapshot(target, make_meta(label="original"), original_records)
    original_bytes = target.read_bytes()

    child = start_child(target, marker, count, mode)

    def temp_has_grown() -> bool:
        temps = temp_files(tmp_path)
        return bool(temps) and temps[0].stat().st_size >= kill_at and (mode != "stall" or marker.exists())

    wait_for(temp_has_grown, child)
    kill(child)

    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(original_bytes).digest()
    survivor = read_snapshot(target)
    assert survivor.meta.label == "original"
    assert survivor.records == original_records
    (stale,) = temp_files(tmp_path)  # the dead writer's temp file is all that is left over

    # The next write succeeds; the stale temp file goes once it is old enough.
    old = time.time() - STALE_TEMP_SECONDS - 1
    os.utime(stale, (old, old))
    write_snapshot(target, make_meta(label="after the crash"), original_records[:2])
    assert read_snapshot(target).meta.label == "after the crash"
    assert temp_files(tmp_path) == []


def test_an_unkilled_writer_does_finish(tmp_path: Path) -> None:
    """Guards the test above: without the kill, the child's write would have replaced the file."""
    target = tmp_path / "live.fcsnap"
    write_snapshot(target, make_meta(label="original"), make_records())

    child = start_child(target, tmp_path / "halfway", 2_000, "run")
    out, err = child.communicate(timeout=120)

    assert child.returncode == 0, err
    assert out.strip() == "finished"
    assert read_snapshot(target).meta.label == "replacement"
    assert temp_files(tmp_path) == []
