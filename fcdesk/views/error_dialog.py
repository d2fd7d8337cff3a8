"""What the user sees when fcdesk hits an exception nobody handled, and the hooks that catch them.

:class:`ExceptionReporter` replaces ``sys.excepthook`` (the GUI thread, Qt slots and qasync's
``asyncSlot`` tasks end there), ``threading.excepthook`` (worker threads) and the asyncio loop's
exception handler ("Task exception was never retrieved" and callbacks that raised). Each problem is
logged with its traceback at ERROR (the rotating log file, redacted by :mod:`fcdesk.logsetup`) and
shown in one :class:`ErrorDialog` on the GUI thread: errors from other threads travel there through
a queued signal, and errors that follow while the dialog is open are added to it, not stacked as
new windows.

Everything the dialog shows or copies went through :func:`fcdesk.logsetup.redact`: a bug report
pasted from it holds no token and no secret.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from fcdesk.logsetup import log_file, redact
from fcdesk.views.about_dialog import runtime_lines
from fcdesk.views.widgets import PlainLabel, heading

log = logging.getLogger("fcdesk.errors")

TITLE = "fcdesk ran into a problem"
#: The summary shows the exception's first line up to this length; the details have all of it.
SUMMARY_LIMIT = 300
COPY_TEXT = "&Copy details"

ExcInfo = tuple[type[BaseException], BaseException | None, TracebackType | None]
#: Exceptions that mean "stop", not "something broke": they go to the previous hook unchanged.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit)


# ------------------------------------------------------------------------------------ the text


def problem_line(exc_type: type[BaseException], exc: BaseException | None) -> str:
    """``ValueError: the first line of its message`` (shortened), redacted."""
    text = str(exc).strip() if exc is not None else ""
    # Redacted before it is shortened: a secret cut in half would no longer match any pattern.
    message = redact(text).splitlines()[0] if text else ""
    if len(message) > SUMMARY_LIMIT:
        message = message[: SUMMARY_LIMIT - 1] + "…"
    return f"{exc_type.__qualname__}: {message}" if message else exc_type.__qualname__


def traceback_text(exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None) -> str:
    """The full traceback (chained causes included), redacted."""
    if exc is None:  # threading.excepthook may pass no value; traceback would then print "NoneType"
        lines = ["Traceback (most recent call last):\n", *traceback.format_tb(tb)] if tb is not None else []
        lines.append(f"{exc_type.__qualname__}\n")
    else:
        lines = traceback.format_exception(exc_type, exc, tb)
    return redact("".join(lines).rstrip())


def environment_text(log_path: Path | None) -> str:
    """The versions and the log file a bug report needs (the About dialog's runtime lines)."""
    lines = [
        f"fcdesk {value}" if name == "Version" else f"{name}: {value}" for name, value in runtime_lines()
    ]
    lines.append(
        f"Log file: {log_path}" if log_path is not None else "Log file: none (logging to a file is off)"
    )
    return redact("\n".join(lines))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------- the dialog


#: Further problems whose details are appended to an open dialog; later ones are only counted.
MAX_APPENDED = 20
#: Occurrences of one error (same type, same frames) logged with their traceback; later ones: a line.
FULL_TRACEBACKS = 3


def _signature(info: tuple[Any, ...]) -> tuple[str, tuple[tuple[str, int], ...]]:
    """What makes two exceptions "the same error": their type and the frames they went through."""
    frames = traceback.extract_tb(info[2]) if info[2] is not None else []
    return getattr(info[0], "__qualname__", str(info[0])), tuple((f.filename, f.lineno or 0) for f in frames)

class ErrorDialog(QDialog):
    """One unexpected problem (and those that followed it), calmly: what happened, that fcdesk is
    still running, and the redacted details for a bug report. Modeless, so fcdesk stays usable.

    ``open_logs``: opens the logs folder ("Open logs folder" is hidden without it). ``log_path``:
    the log file the details were written to (None: there is none, and the text says so).
    """

    def __init__(
        self,
        problem: str,
        details: str,
        *,
        log_path: Path | None = None,
        open_logs: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle(TITLE)
        self._open_logs = open_logs
        self._more = 0
        lay = QVBoxLayout(self)
        lay.setSpacing(10)

        top = QHBoxLayout()
        icon = QLabel(self)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(48, 48))
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.addWidget(heading(TITLE))
        self.summary_label = PlainLabel(f"Something went wrong: {redact(problem)}", self)
        self.summary_label.setObjectName("errorSummary")
        texts.addWidget(self.summary_label)
        self.reassurance_label = PlainLabel(self._reassurance(log_path), self, muted=True)
        self.reassurance_label.setObjectName("errorReassurance")
        texts.addWidget(self.reassurance_label)
        self.more_label = PlainLabel("", self)
        self.more_label.setObjectName("errorMore")
        self.more_label.setVisible(False)
        texts.addWidget(self.more_label)
        top.addLayout(texts, 1)
        lay.addLayout(top)

        self.details_button = QPushButton("Show &details", self)
        self.details_button.setObjectName("errorDetailsToggle")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._show_details)
        lay.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.details_edit = QPlainTextEdit(self)
        self.details_edit.setObjectName("errorDetails")
        self.details_edit.setAccessibleName("Error details")
        self.details_edit.setReadOnly(True)
        self.details_edit.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.details_edit.setTabChangesFocus(True)  # Tab moves on to the buttons, as everywhere else
        self.details_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details_edit.setPlainText(redact(details))
        self.details_edit.setVisible(False)
        lay.addWidget(self.details_edit, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = buttons.addButton(COPY_TEXT, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setObjectName("errorCopy")
        self.copy_button.setToolTip("Copy the details (tokens and secrets removed) for a bug report")
        self.copy_button.clicked.connect(self.copy_details)
        self.open_logs_button = buttons.addButton("Open &logs folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_logs_button.setObjectName("errorOpenLogs")
        self.open_logs_button.setVisible(open_logs is not None)
        self.open_logs_button.clicked.connect(self._open_logs_folder)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setObjectName("errorClose")
        self.close_button.setDefault(True)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(620, self.sizeHint().height())

    @staticmethod
    def _reassurance(log_path: Path | None) -> str:
        saved = (
            "The details were written to the log file."
            if log_path is not None
            else "No log file is being written: use Copy details to keep them."
        )
        return (
            "fcdesk is still running, and the files it had already saved (snapshots, settings, the "
            f"audit log) are not affected. {saved} If this happened while you were changing something "
            "in Azure, refresh to see what was saved before trying again."
        )

    @property
    def more(self) -> int:
        """How many problems followed the first while the dialog was open."""
        return self._more

    def details_text(self) -> str:
        return self.details_edit.toPlainText()

    def add_problem(self, problem: str, details: str) -> None:
        """Another problem while this one is open: counted, and its details appended (the first
        MAX_APPENDED only: an error repeating in a timer or a paint must not grow the dialog forever)."""
        self._more += 1
        plural = "problem" if self._more == 1 else "problems"
        self.more_label.setText(f"{self._more} more {plural} happened since; the last: {redact(problem)}")
        self.more_label.setVisible(True)
        if self._more <= MAX_APPENDED:
            self.details_edit.appendPlainText(f"\n{redact(details)}")
        elif self._more == MAX_APPENDED + 1:
            self.details_edit.appendPlainText(
                f"\n(Only the first {MAX_APPENDED} further problems are shown here; the log has the rest.)"
            )

    def copy_details(self) -> str:
        """Put the details on the clipboard and say so on the button for two seconds."""
        text = self.details_text()
        QGuiApplication.clipboard().setText(text)
        self.copy_button.setText("Copied")
        QTimer.singleShot(2000, self, self._reset_copy)
        return text

    def _reset_copy(self) -> None:
        self.copy_button.setText(COPY_TEXT)

    def _show_details(self, shown: bool) -> None:
        self.details_edit.setVisible(shown)
        self.details_button.setText("Hide &details" if shown else "Show &details")
        if shown:
            self.resize(max(self.width(), 760), max(self.height(), 520))
        else:
            self.adjustSize()

    def _open_logs_folder(self) -> None:
        if self._open_logs is not None:
            self._open_logs()


# -------------------------------------------------------------------------------- the reporter


class ExceptionReporter(QObject):
    """Catches what nobody handled (see the module doc). Create it on the GUI thread.

    ``parent_provider``: the window the dialog belongs to, asked when it opens. ``open_logs``: for the
    dialog's "Open logs folder". ``show_dialog``: False only logs and counts (tests, headless runs).
    ``loop``: the asyncio loop to watch; default the loop running when :meth:`install` is called.
    """

    #: (problem line, details), from any thread, delivered on the GUI thread.
    _arrived = Signal(str, str)
    #: The redacted problem line of each problem, on the GUI thread, after the dialog shows it.
    problemReported = Signal(str)

    def __init__(
        self,
        parent_provider: Callable[[], QWidget | None],
        open_logs: Callable[[], None] | None = None,
        *,
        show_dialog: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._parent_provider = parent_provider
        self._open_logs = open_logs
        self._show_dialog = show_dialog
        self._loop = loop
        self._dialog: ErrorDialog | None = None
        self.count = 0  #: problems reported since construction
        self._seen: dict[tuple[str, tuple[tuple[str, int], ...]], int] = {}  #: occurrences per error
        # The hooks, bound once: uninstall() compares them with what is installed now.
        self._sys_hook = self._on_sys_exception
        self._thread_hook = self._on_thread_exception
        self._loop_hook = self._on_loop_exception
        self._installed = False
        self._previous_sys: Callable[..., Any] | None = None
        self._previous_thread: Callable[..., Any] | None = None
        self._previous_loop: Callable[..., Any] | None = None
        self._watched: asyncio.AbstractEventLoop | None = None
        self._arrived.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def dialog(self) -> ErrorDialog | None:
        """The dialog shown now, if any."""
        return self._dialog

    @property
    def installed(self) -> bool:
        return self._installed

    def install(self) -> None:
        """Replace the hooks (idempotent). The asyncio handler goes on ``loop`` or the running loop."""
        if self._installed:
            return
        self._installed = True
        self._previous_sys = sys.excepthook
        sys.excepthook = self._sys_hook
        self._previous_thread = threading.excepthook
        threading.excepthook = self._thread_hook
        loop = self._loop or _running_loop()
        if loop is not None:
            self._previous_loop = _loop_handler(loop)
            loop.set_exception_handler(self._loop_hook)
            self._watched = loop

    def uninstall(self) -> None:
        """Put the previous hooks back (each only if it is still ours: a later hook stays)."""
        if not self._installed:
            return
        self._installed = False
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._previous_sys or sys.__excepthook__
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._previous_thread or threading.__excepthook__
        loop, self._watched = self._watched, None
        if loop is not None and not loop.is_closed() and _loop_handler(loop) == self._loop_hook:
            loop.set_exception_handler(self._previous_loop)
        self._previous_sys = self._previous_thread = self._previous_loop = None

    # ------------------------------------------------------------------------------- the hooks

    def _on_sys_exception(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, _PASS_THROUGH) or not self._report((exc_type, exc, tb), "Unexpected error"):
            (self._previous_sys or sys.__excepthook__)(exc_type, exc, tb)

    def _on_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "unknown"
        info: ExcInfo = (args.exc_type, args.exc_value, args.exc_traceback)
        if issubclass(args.exc_type, _PASS_THROUGH) or not self._report(
            info, f"Unexpected error in thread {name}"
        ):
            (self._previous_thread or threading.__excepthook__)(args)

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message") or "Unhandled exception in the event loop")
        if not isinstance(exc, BaseException):
            # A message without an exception ("Task was destroyed but it is pending!", an unclosed
            # transport...): worth a line in the log, not a dialog.
            extra = "".join(f"\n{key}: {value!r}" for key, value in context.items() if key != "message")
            log.warning("asyncio: %s%s", message, extra)
            return
        if isinstance(exc, _PASS_THROUGH) or not self._report(
            (type(exc), exc, exc.__traceback__), f"Unexpected error in an asyncio task ({message})"
        ):
            if self._previous_loop is not None:
                self._previous_loop(loop, context)
            else:
                loop.default_exception_handler(context)

    def _report(self, info: ExcInfo, what: str) -> bool:
        """Log the problem and send it to the GUI thread; False if that failed (the caller then falls
        back to the previous hook, so nothing is lost)."""
        try:
            key = _signature(info)
            seen = self._seen[key] = self._seen.get(key, 0) + 1
            if seen <= FULL_TRACEBACKS:
                log.error("%s", what, exc_info=info)
            else:  # the same error again (a timer, a paint): one line, so the log keeps the first one
                log.error("%s (the same error again, %d times so far; its traceback is above)", what, seen)
            problem = problem_line(info[0], info[1])
            details = f"{what} at {_now()}\n{traceback_text(*info)}"
            self._arrived.emit(problem, details)
        except Exception:  # noqa: BLE001 - a hook must never raise; the previous one reports instead
            return False
        return True

    # ------------------------------------------------------------------------------- the dialog

    def _deliver(self, problem: str, details: str) -> None:
        self.count += 1
        if self._show_dialog:
            try:
                self._present(problem, details)
            except Exception:  # noqa: BLE001 - raising here would call the hook again, in a loop
                log.exception("could not show the error dialog")
        self.problemReported.emit(problem)

    def _present(self, problem: str, details: str) -> None:
        if self._dialog is not None:
            self._dialog.add_problem(problem, details)
            return
        log_path = log_file()
        dialog = ErrorDialog(
            problem,
            f"{environment_text(log_path)}\n\n{details}",
            log_path=log_path,
            open_logs=self._open_logs,
            parent=self._parent(),
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._forget_dialog)
        dialog.destroyed.connect(self._forget_dialog)  # its parent window went first
        self._dialog = dialog
        dialog.show()  # modeless, above its window; later problems update it without taking the focus
        dialog.activateWindow()

    def _forget_dialog(self, *_: object) -> None:
        self._dialog = None

    def _parent(self) -> QWidget | None:
        """The window-modal dialog in front, if any (a child of the main window would be blocked by
        it, so Close and Copy details would not respond), else the main window."""
        modal = QApplication.activeModalWidget()
        if modal is not None:
            return modal
        try:
            return self._parent_provider()
        except Exception:  # noqa: BLE001 - a window being torn down: the dialog stands alone
            return None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop_handler(loop: asyncio.AbstractEventLoop) -> Callable[..., Any] | None:
    """The loop's exception handler. qasync (0.28) keeps its own in a private attribute and does not
    override ``get_exception_handler``, which then always answers None."""
    qasync_handler = getattr(loop, "_QEventLoop__exception_handler", _MISSING)
    if qasync_handler is not _MISSING:
        return qasync_handler  # type: ignore[no-any-return]
    return loop.get_exception_handler()


_MISSING = object()
