"""The suite-wide fixtures of tests/conftest.py do what they promise."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import keyring
import pytest

from fcdesk.store import paths
from tests.helpers.in_memory_keyring import InMemoryKeyring

REPO = Path(__file__).resolve().parents[1]


def test_user_dirs_point_into_tmp_path(tmp_path: Path) -> None:
    data, config = Path(os.environ["FCDESK_DATA_DIR"]), Path(os.environ["FCDESK_CONFIG_DIR"])
    assert data.is_relative_to(tmp_path) and config.is_relative_to(tmp_path)
    assert paths.data_dir() == data and paths.config_dir() == config
    assert paths.snapshot_dir().is_relative_to(tmp_path)


@pytest.mark.parametrize("attempt", [1, 2])
def test_in_memory_keyring_is_active_and_fresh_per_test(
    in_memory_keyring: InMemoryKeyring, attempt: int
) -> None:
    assert keyring.get_keyring() is in_memory_keyring
    assert isinstance(keyring.get_keyring(), InMemoryKeyring)
    # Each test starts empty: the secret stored by the other round is not visible.
    assert keyring.get_password("fcdesk", "client-secret") is None
    keyring.set_password("fcdesk", "client-secret", f"s3cret-{attempt}")
    assert in_memory_keyring.passwords == {("fcdesk", "client-secret"): f"s3cret-{attempt}"}
    keyring.delete_password("fcdesk", "client-secret")
    with pytest.raises(keyring.errors.PasswordDeleteError):
        keyring.delete_password("fcdesk", "client-secret")


def test_qloop_runs_tasks_while_qtbot_waits(qloop: asyncio.AbstractEventLoop, qtbot) -> None:  # noqa: ANN001
    results: list[str] = []

    async def work() -> str:
        await asyncio.sleep(0.01)
        value = await asyncio.to_thread(lambda: "from a thread")  # default executor: QThreadExecutor
        results.append(value)
        return value

    task = qloop.create_task(work())
    qtbot.waitUntil(task.done, timeout=5000)

    assert task.result() == "from a thread" and results == ["from a thread"]
    assert asyncio.get_event_loop() is qloop


def test_a_test_that_leaves_a_task_pending_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    pytester.makeconftest("from tests.conftest import *  # noqa: F403\n")
    pytester.makeini("[pytest]\nqt_api = pyside6\n")
    pytester.makepyfile(
        """
        import asyncio

        def test_leaks(qloop):
            async def forever():
                try:
                    await asyncio.sleep(3600)
                finally:
                    print("forever was cancelled")
            qloop.create_task(forever())

        def test_clean(qloop, qtbot):
            task = qloop.create_task(asyncio.sleep(0))
            qtbot.waitUntil(task.done)
        """
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_leaks*", "*test left 1 asyncio task(s) pending*", "*forever()*"]
    )
    assert "forever was cancelled" in result.stdout.str()
