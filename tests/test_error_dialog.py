"""The unexpected-error dialog and the hooks behind it (``fcdesk.views.error_dialog``).

The hooks are called the way Python calls them: ``sys.excepthook`` with a really raised exception,
``threading.excepthook`` by a worker thread that dies, the asyncio loop's handler by a task whose
exception nobody retrieved. Hooks are installed inside each test (pytest-qt and pytest replace
``sys.excepthook``/``threading.excepthook`` around the test body) and removed in teardown.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from fcdesk import __version__
from fcdesk.logsetup import configure_logging
from fcdesk.views.error_dialog import (
    SUMMARY_LIMIT,
    TITLE,
    ErrorDialog,
    ExceptionReporter,
    problem_line,
    traceback_text,
)
from tests.test_logsetup import make_jwt, restore_logging  # noqa: F401 - restore_logging: a fixture

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def raised(exc: BaseException) -> ExcInfo:
    """``exc`` really raised (so it has a traceback), as a hook receives it."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - handed to the hook under test
        return type(caught), caught, caught.__traceback__


def fail_to_apply_policy(token: str) -> None:
    """A function name the traceback must show."""
    raise RuntimeError(f"ARM refused the request with Bearer {token}: the policy was not applied")


@pytest.fixture
def log_folder(tmp_path: Path, restore_logging: None) -> Path:  # noqa: F811 - the imported fixture
    folder = tmp_path / "logs"
    configure_logging(log_dir=folder)
    return folder


def read_log(folder: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return "".join(p.read_text(encoding="utf-8") for p in folder.glob("fcdesk.log*"))


@pytest.fixture
def host(qtbot) -> QWidget:
    widget = QWidget()
    widget.setWindowTitle("fcdesk")
    qtbot.addWidget(widget)
    widget.show()
    return widget


@pytest.fixture
def opened_logs() -> list[int]:
    return []


@pytest.fixture
def reporters(host: QWidget, opened_logs: list[int]) -> Iterator[Callable[..., ExceptionReporter]]:
    """Makes reporters (not installed); each is uninstalled and its dialog closed afterwards."""
    made: list[ExceptionReporter] = []

    def make(**kwargs: Any) -> ExceptionReporter:
        kwargs.setdefault("open_logs", lambda: opened_logs.append(1))
        reporter = ExceptionReporter(lambda: host, **kwargs)
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.uninstall()
        if reporter.dialog is not None:
            reporter.dialog.close()


def shown_dialogs(host: QWidget) -> list[ErrorDialog]:
    return [d for d in host.findChildren(ErrorDialog) if d.isVisible()]


# ------------------------------------------------------------------------------ main thread


def test_an_uncaught_exception_shows_one_redacted_dialog_and_logs_the_traceback(
    reporters, host: QWidget, opened_logs: list[int], log_folder: Path, qtbot
) -> None:
    token = make_jwt(upn="alice@contoso.example")
    reporter = reporters()
    reporter.install()
    assert sys.excepthook == reporter._sys_hook
    sys.excepthook(*raised_from(fail_to_apply_policy, token))
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
    dialog = reporter.dialog
    assert dialog is not None and shown_dialogs(host) == [dialog] and dialog.parent() is host
    assert dialog.windowTitle() == TITLE == "fcdesk ran into a problem"

    summary = dialog.summary_label.text()
    assert summary.startswith("Something went wrong: RuntimeError: ARM refused the request")
    assert summary.endswith("with Bearer ***: the policy was not applied")
    assert token not in summary and "eyJ" not in summary
    assert dialog.summary_label.textFormat() == Qt.TextFormat.PlainText
    assert "still running" in dialog.reassurance_label.text()
    assert "written to the log file" in dialog.reassurance_label.text()

    details = dialog.details_text()
    assert "Traceback (most recent call last)" in details and "in fail_to_apply_policy" in details
    assert f"fcdesk {__version__}" in details and "Python: " in details and "Qt: " in details
    assert "Platform: " in details and f"Log file: {log_folder / 'fcdesk.log'}" in details
    assert token not in details and "eyJ" not in details

    # the details open and close; copying gives the redacted text and says so
    assert not dialog.details_edit.isVisible()
    qtbot.mouseClick(dialog.details_button, Qt.MouseButton.LeftButton)
    assert dialog.details_edit.isVisible() and dialog.details_edit.isReadOnly()
    assert dialog.details_button.text() == "Hide &details"
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text()
    assert copied == details and token not in copied
    assert dialog.copy_button.text() == "Copied"

    assert dialog.open_logs_button.isVisible()
    qtbot.mouseClick(dialog.open_logs_button, Qt.MouseButton.LeftButton)
    assert opened_logs == [1]

    logged = read_log(log_folder)
    assert "ERROR fcdesk.errors: Unexpected error" in logged and "in fail_to_apply_policy" in logged
    assert "Traceback (most recent call last)" in logged and token not in logged

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # keyboard: Escape closes it
    qtbot.waitUntil(lambda: reporter.dialog is None)
    assert shown_dialogs(host) == [] and reporter.count == 1


def raised_from(function: Callable[..., None], *args: Any) -> ExcInfo:
    try:
        function(*args)
    except BaseException as caught:  # noqa: BLE001 - handed to the hook under test
        return type(caught), caught, caught.__traceback__
    raise AssertionError(f"{function.__name__} did not raise")


def test_later_problems_are_added_to_the_open_dialog_not_stacked(reporters, host: QWidget, qtbot) -> None:
    reporter = reporters()
    reporter.install()
    sys.excepthook(*raised(ValueError("first")))
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    dialog = reporter.dialog
    assert dialog is not None and not dialog.more_label.isVisible()
    sys.excepthook(*raised(KeyError("second")))
    sys.excepthook(*raised(OSError("third: client_secret=Q8v~abcdef.123456")))
    qtbot.waitUntil(lambda: reporter.count == 3)
    assert shown_dialogs(host) == [dialog] and reporter.dialog is dialog
    assert dialog.more == 2 and dialog.more_label.isVisible()
    assert dialog.more_label.text().startswith("2 more problems happened")
    assert dialog.summary_label.text() == "Something went wrong: ValueError: first"  # still the first
    details = dialog.details_text()
    assert all(text in details for text in ("ValueError: first", "KeyError: 'second'", "OSError: third"))
    assert "client_secret=***" in details and "Q8v~abcdef.123456" not in details
    assert details.count("Traceback (most recent call last)") == 3


def test_an_error_that_keeps_repeating_is_capped_in_the_dialog_and_the_log(
    reporters, host: QWidget, log_folder: Path, qtbot
) -> None:
    """An exception in a timer or a paint repeats for ever: the dialog keeps the first details and
    counts the rest; the log keeps the first tracebacks and a line for each repeat."""
    from fcdesk.views.error_dialog import FULL_TRACEBACKS, MAX_APPENDED

    reporter = reporters()
    reporter.install()
    for _ in range(MAX_APPENDED + 10):
        sys.excepthook(*raised(ZeroDivisionError("paint: division by zero")))
    qtbot.waitUntil(lambda: reporter.count == MAX_APPENDED + 10)
    dialog = reporter.dialog
    assert dialog is not None and dialog.more == MAX_APPENDED + 9
    details = dialog.details_text()
    assert details.count("Traceback (most recent call last)") == 1 + MAX_APPENDED
    assert f"Only the first {MAX_APPENDED} further problems are shown here" in details
    logged = read_log(log_folder)
    assert logged.count("Traceback (most recent call last)") == FULL_TRACEBACKS
    assert f"the same error again, {MAX_APPENDED + 10} times so far" in logged


def test_the_dialog_is_usable_while_a_window_modal_dialog_is_open(reporters, host: QWidget, qtbot) -> None:
    """Errors are likeliest inside dialogs (sign-in, export), which block their window: the error
    dialog goes in front of the modal one, not behind it as a blocked child of the window."""
    from PySide6.QtWidgets import QDialog

    modal = QDialog(host)
    modal.open()  # window-modal, as the sign-in wizard and the export dialog open
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is modal)
    reporter = reporters()
    reporter.install()
    sys.excepthook(*raised(RuntimeError("in the sign-in wizard")))
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    assert reporter.dialog.parent() is modal
    qtbot.mouseClick(reporter.dialog.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: reporter.dialog is None)
    modal.reject()


def test_a_new_dialog_after_the_first_was_closed(reporters, host: QWidget, qtbot) -> None:
    reporter = reporters()
    reporter.install()
    sys.excepthook(*raised(ValueError("one")))
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    first = reporter.dialog
    assert first is not None
    qtbot.mouseClick(first.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: reporter.dialog is None)
    sys.excepthook(*raised(ValueError("two")))
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    assert reporter.dialog.more == 0 and reporter.dialog.summary_label.text().endswith("ValueError: two")


# ---------------------------------------------------------------------------- worker thread


def test_a_worker_thread_error_reaches_the_gui_thread(
    reporters, host: QWidget, log_folder: Path, qtbot
) -> None:
    reporter = reporters()
    delivered_on: list[bool] = []
    reporter.problemReported.connect(
        lambda _p: delivered_on.append(QThread.currentThread() is QApplication.instance().thread())
    )
    reporter.install()
    assert threading.excepthook == reporter._thread_hook
    token = make_jwt()

    def work() -> None:
        fail_to_apply_policy(token)

    worker = threading.Thread(target=work, name="policy-writer")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    assert delivered_on == [True] and shown_dialogs(host) == [reporter.dialog]
    details = reporter.dialog.details_text()
    assert "Unexpected error in thread policy-writer" in details and "in work" in details
    assert token not in details and token not in reporter.dialog.summary_label.text()
    logged = read_log(log_folder)
    assert "Unexpected error in thread policy-writer" in logged and token not in logged


# ---------------------------------------------------------------------------------- asyncio


async def _apply_in_background(token: str) -> None:
    await asyncio.sleep(0)
    fail_to_apply_policy(token)


def test_an_asyncio_task_exception_nobody_retrieved_shows_the_dialog(
    reporters, host: QWidget, log_folder: Path, qtbot, qloop
) -> None:
    reporter = reporters()
    reporter.install()  # the running loop: the qasync loop
    token = make_jwt()
    task = qloop.create_task(_apply_in_background(token))
    qtbot.waitUntil(task.done)
    del task  # never awaited, never retrieved: the loop reports it when the task goes
    gc.collect()
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    details = reporter.dialog.details_text()
    assert "Task exception was never retrieved" in details and "in _apply_in_background" in details
    assert token not in details
    logged = read_log(log_folder)
    assert "Unexpected error in an asyncio task (Task exception was never retrieved)" in logged
    assert token not in logged


def test_asyncio_messages_without_an_exception_are_logged_not_shown(
    reporters, host: QWidget, log_folder: Path, qtbot, qloop
) -> None:
    reporter = reporters(loop=qloop)
    reporter.install()
    qloop.call_exception_handler({"message": "Task was destroyed but it is pending!", "handle": "<Handle x>"})
    qtbot.wait(20)
    assert reporter.count == 0 and reporter.dialog is None
    assert "WARNING fcdesk.errors: asyncio: Task was destroyed but it is pending!" in read_log(log_folder)


# ------------------------------------------------------------------------- hooks in and out


def test_stop_requests_go_to_the_previous_hooks(reporters, qtbot, qloop, monkeypatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda t, v, tb: seen.append(f"sys:{t.__name__}"))
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(f"thread:{args.exc_type.__name__}"))
    qloop.set_exception_handler(
        lambda loop, context: seen.append(f"loop:{type(context['exception']).__name__}")
    )
    try:
        reporter = reporters()
        reporter.install()
        sys.excepthook(*raised(KeyboardInterrupt()))
        worker = threading.Thread(target=lambda: sys.exit(3))
        worker.start()
        worker.join()
        qloop.call_exception_handler({"message": "stop", "exception": SystemExit(1)})
        qtbot.wait(20)
        assert seen == ["sys:KeyboardInterrupt", "thread:SystemExit", "loop:SystemExit"]
        assert reporter.count == 0 and reporter.dialog is None
    finally:
        reporter.uninstall()
        qloop.set_exception_handler(None)


def test_uninstall_restores_the_previous_hooks(reporters, qloop) -> None:
    def custom(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        return None

    before_sys, before_thread = sys.excepthook, threading.excepthook
    qloop.set_exception_handler(custom)
    try:
        reporter = reporters()
        reporter.install()
        reporter.install()  # idempotent: the previous hooks are not lost
        assert (sys.excepthook, threading.excepthook) == (reporter._sys_hook, reporter._thread_hook)
        assert qloop._QEventLoop__exception_handler == reporter._loop_hook
        reporter.uninstall()
        assert (sys.excepthook, threading.excepthook) == (before_sys, before_thread)
        assert qloop._QEventLoop__exception_handler is custom
        # a hook set after ours is left alone
        reporter.install()
        later = lambda *args: None  # noqa: E731
        sys.excepthook = later
        reporter.uninstall()
        assert sys.excepthook is later and threading.excepthook == before_thread
    finally:
        sys.excepthook = before_sys
        qloop.set_exception_handler(None)


def test_without_dialogs_problems_are_logged_and_counted(
    reporters, host: QWidget, log_folder: Path, qtbot
) -> None:
    reporter = reporters(show_dialog=False)
    reporter.install()
    with qtbot.waitSignal(reporter.problemReported, timeout=2000) as reported:
        sys.excepthook(*raised(ZeroDivisionError("division by zero")))
    assert reported.args == ["ZeroDivisionError: division by zero"]
    assert reporter.count == 1 and reporter.dialog is None and shown_dialogs(host) == []
    assert "ZeroDivisionError: division by zero" in read_log(log_folder)


def test_a_window_that_is_gone_still_gets_a_standalone_dialog(reporters, qtbot) -> None:
    def gone() -> QWidget:
        raise RuntimeError("Internal C++ object (MainWindow) already deleted.")

    reporter = ExceptionReporter(gone, None)
    reporter.install()
    try:
        sys.excepthook(*raised(ValueError("late")))
        qtbot.waitUntil(lambda: reporter.dialog is not None)
        assert reporter.dialog.parent() is None and not reporter.dialog.open_logs_button.isVisibleTo(
            reporter.dialog
        )
    finally:
        reporter.uninstall()
        if reporter.dialog is not None:
            reporter.dialog.close()


# ------------------------------------------------------------------------------- the dialog


def test_the_dialog_alone_is_keyboard_friendly_and_says_when_there_is_no_log(qtbot) -> None:
    dialog = ErrorDialog("ValueError: x", "Traceback (most recent call last):\nValueError: x", log_path=None)
    qtbot.addWidget(dialog)
    dialog.show()
    assert "No log file is being written" in dialog.reassurance_label.text()
    assert not dialog.open_logs_button.isVisibleTo(dialog)  # no open_logs: no button
    assert dialog.close_button.isDefault()
    assert dialog.details_edit.tabChangesFocus() and dialog.details_edit.accessibleName() == "Error details"
    for button in (dialog.details_button, dialog.copy_button, dialog.close_button):
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert "&" in dialog.details_button.text() and "&" in dialog.copy_button.text()
    dialog.details_button.setFocus()
    qtbot.keyClick(dialog.details_button, Qt.Key.Key_Space)  # a focused button toggles with Space
    assert dialog.details_edit.isVisible()
    with qtbot.waitSignal(dialog.rejected, timeout=2000):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)


def test_the_problem_line_is_short_and_redacted() -> None:
    token = make_jwt()
    line = problem_line(RuntimeError, RuntimeError(f"Bearer {token} " + "x" * 1000 + "\nsecond line"))
    assert line.startswith("RuntimeError: Bearer ***") and token not in line
    assert len(line) <= len("RuntimeError: ") + SUMMARY_LIMIT and line.endswith("…")
    assert problem_line(KeyError, None) == "KeyError"
    # threading.excepthook may pass no value: the text is the type's name, not "NoneType"
    _, exc, tb = raised(ValueError("v"))
    text = traceback_text(ValueError, None, tb)
    assert text.startswith("Traceback (most recent call last)") and text.endswith("ValueError")
    assert "NoneType" not in text
