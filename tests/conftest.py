"""Suite-wide fixtures: isolated user folders and keyring for every test, and the qasync loop.

- ``isolated_user_dirs`` (autouse): ``FCDESK_DATA_DIR``/``FCDESK_CONFIG_DIR`` point into the test's
  ``tmp_path``, so no test reads or writes the real per-user folders.
- ``base``, ``scenario``, ``emu`` (from ``tests/helpers/emulator_fixtures.py``): a fresh copy of the
  demo tenant in a running ARM emulator, for tests that write to it.
- ``restore_logging`` (autouse): fcdesk's log file handler is removed after each test and the
  logger levels it set are restored.
- ``in_memory_keyring`` (autouse): an ``InMemoryKeyring`` is the active keyring backend during the
  test (the previous backend is restored after), so no test touches the OS keychain.
- ``qloop`` (session): a qasync ``QEventLoop`` over pytest-qt's ``qapp``, flagged as already
  running, so ``@asyncSlot`` tasks advance while ``qtbot.waitSignal``/``waitUntil`` spin Qt
  (style-anchors.md section 7A). Note: once a test has used it, it stays the thread's running
  asyncio loop for the rest of the session, so ``asyncio.run()`` cannot be used afterwards in the
  main thread.
- ``no_pending_tasks`` (autouse): a test that used ``qloop`` fails if it left asyncio tasks
  pending (they are cancelled first, and listed in the failure).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests.helpers.in_memory_keyring import InMemoryKeyring

pytest_plugins = ["pytester", "tests.helpers.emulator_fixtures"]


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    dirs = {"data": tmp_path / "user-data", "config": tmp_path / "user-config"}
    monkeypatch.setenv("FCDESK_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("FCDESK_CONFIG_DIR", str(dirs["config"]))
    return dirs


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Code under test may install fcdesk's log file (the CLI's Azure commands, the GUI start):
    remove it after each test and put the levels back, so no test logs into another's folder."""
    import logging

    from fcdesk.logsetup import unconfigure_logging

    names = ("", "qasync", "azure", "azure.core.pipeline.policies.http_logging_policy")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    unconfigure_logging()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture(autouse=True)
def in_memory_keyring() -> Iterator[InMemoryKeyring]:
    previous = keyring.get_keyring()
    backend = InMemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def qloop(qapp):  # qapp: pytest-qt's QApplication
    import qasync  # imported here so that tests without Qt never load it

    loop = qasync.QEventLoop(qapp, already_running=True)
    executor = qasync.QThreadExecutor(4)
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    yield loop
    # Otherwise "QThread: Destroyed while thread is still running" at exit. No loop.stop(): it
    # calls QApplication.exit(), after which every later qtbot.wait* returns at once.
    executor.shutdown(wait=True)


@pytest.fixture(autouse=True)
def no_pending_tasks(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "qloop" not in request.fixturenames:
        return
    loop = request.getfixturevalue("qloop")
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not pending:
        return
    described = [repr(task) for task in pending]
    for task in pending:
        task.cancel()
    _let_cancellations_run(pending)
    pytest.fail(f"test left {len(pending)} asyncio task(s) pending (now cancelled):\n" + "\n".join(described))


def _let_cancellations_run(tasks: list[asyncio.Task], timeout: float = 1.0) -> None:
    """Spin Qt briefly so the cancelled tasks unwind (run their finally blocks) before the next test."""
    from PySide6.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(task.done() for task in tasks):
        QCoreApplication.processEvents()
        time.sleep(0.001)
