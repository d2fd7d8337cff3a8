"""WorkspaceContext's permission checks and write holds (the rules every write button follows)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from fcdesk.app import demo_snapshot_path, load_inventory
from fcdesk.models import workspace as ws
from fcdesk.models.workspace import (
    CHECKING_REASON,
    OFFLINE_REASON,
    POLICY_RIGHTS,
    REFRESH_REASON,
    SnapshotInfo,
    WorkspaceContext,
)


@dataclass(frozen=True)
class Answer:
    allowed: bool
    reason: str = ""
    checked: bool = True


@pytest.fixture
def live_context(qapp) -> WorkspaceContext:
    loaded = load_inventory(demo_snapshot_path())
    return WorkspaceContext(loaded.inventory, SnapshotInfo(None, loaded.source, live=True))


def test_writes_need_live_data_and_a_checker(live_context: WorkspaceContext, qloop) -> None:
    ctx = live_context
    assert ctx.write_disabled_reason == ws.LIVE_REASON  # live data, but nothing to write with

    async def allow(kind: str, scope: str) -> Answer:
        return Answer(True)

    ctx.set_rights_checker(allow)
    assert ctx.write_disabled_reason is None
    ctx.set_inventory(ctx.inventory, SnapshotInfo(None, ctx.info.source, live=False))
    assert ctx.write_disabled_reason == OFFLINE_REASON
    ctx.set_rights_checker(None)


def test_a_refresh_holds_writes_and_releases_them(live_context: WorkspaceContext, qtbot, qloop) -> None:
    ctx = live_context

    async def allow(kind: str, scope: str) -> Answer:
        return Answer(True)

    ctx.set_rights_checker(allow)
    with qtbot.waitSignal(ctx.scopeChanged, timeout=1000):
        ctx.set_busy_reason(REFRESH_REASON)
    assert ctx.write_disabled_reason == REFRESH_REASON
    ctx.set_busy_reason(None)
    assert ctx.write_disabled_reason is None
    ctx.set_rights_checker(None)


def test_a_failed_check_is_asked_again_but_a_no_is_kept(
    live_context: WorkspaceContext, qtbot, qloop, monkeypatch
) -> None:
    ctx = live_context
    calls: list[str] = []
    answers = {
        "/subscriptions/a": [
            Answer(False, "Could not check your permissions: HTTP 503", checked=False),
            Answer(True),
        ],
        "/subscriptions/b": [Answer(False, "You need Owner"), Answer(True)],
    }

    async def checker(kind: str, scope: str) -> Answer:
        calls.append(scope)
        return answers[scope].pop(0)

    ctx.set_rights_checker(checker)
    assert ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/a") == CHECKING_REASON
    assert ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/b") == CHECKING_REASON
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=2000)
    qtbot.waitUntil(
        lambda: ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/b") == "You need Owner", timeout=2000
    )
    assert "HTTP 503" in (ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/a") or "")

    # A "Check again" asks again after a failure, never after a clear answer.
    def ask(scope: str) -> object:
        task = asyncio.ensure_future(ctx.rights_answer(POLICY_RIGHTS, scope, fresh=True))
        qtbot.waitUntil(task.done, timeout=2000)
        return task.result()

    assert ask("/subscriptions/a") == Answer(True)
    assert ask("/subscriptions/b") == Answer(False, "You need Owner")
    assert calls == ["/subscriptions/a", "/subscriptions/b", "/subscriptions/a"]

    # Without a "Check again", a failure is asked again by itself after a while.
    answers["/subscriptions/c"] = [Answer(False, "Could not check", checked=False), Answer(True)]
    ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/c")
    qtbot.waitUntil(
        lambda: ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/c") == "Could not check", timeout=2000
    )
    monkeypatch.setattr(ws, "RETRY_FAILED_CHECK_S", 0.0)
    assert ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/c") == CHECKING_REASON
    qtbot.waitUntil(lambda: ctx.rights_reason(POLICY_RIGHTS, "/subscriptions/c") is None, timeout=2000)
    ctx.set_rights_checker(None)
