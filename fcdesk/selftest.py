"""``fcdesk --self-test [--snapshot PATH] [--screenshots DIR]``.

Starts the real window (offscreen when there is no display), opens every tab and its detail dock,
saves a PNG of each when asked, prints ONE JSON object on stdout and exits non-zero on any error.

Output (a stable interface, documented in the README):
``{"ok": bool, "startup_ms": float, "tabs": {title: rows shown}, "screenshots": [paths],
"snapshot": path, "errors": [messages], "warnings": [Qt warnings]}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Qt messages that say nothing about fcdesk (platform plugin chatter under offscreen).
IGNORED_QT_MESSAGES = ("propagateSizeHints", "This plugin does not support")


def process_uptime_ms() -> float | None:
    """Milliseconds since the OS started this process (Linux), so start-up includes interpreter boot."""
    try:
        stat = Path("/proc/self/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        hz = os.sysconf("SC_CLK_TCK")
        return (uptime - start_ticks / hz) * 1000.0
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _settle(app: Any, ms: int = 150) -> None:
    """Let posted show/layout events run: a widget added to a visible parent is shown and laid out on
    later event-loop turns, so a grab right after one processEvents() shows half-built panels."""
    deadline = time.perf_counter() + ms / 1000
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)


def _save_png(widget: Any, out: Path, errors: list[str]) -> bool:
    """Grab ``widget`` into ``out``; False (and a message in ``errors``) if it could not be saved."""
    if widget.grab().save(str(out)):
        return True
    errors.append(f"could not save {out}")
    return False


def _dialogs(window: Any) -> list[tuple[str, Any]]:
    """The dialogs a person meets besides the tabs, built without any network access."""
    from fcdesk.views.compare_dialog import CompareDialog
    from fcdesk.views.signin_dialog import SignInDialog

    out: list[tuple[str, Any]] = []
    services = window.sign_in_services()
    if services is not None:
        dialog = SignInDialog(services, window)
        dialog.resize(720, 560)
        out.append(("5-sign-in", dialog))
    rows = window.context.inventory.matrix_rows(window.context.scope)
    picked = [r for r in rows if r.deployment.model_name == "gpt-4o"][:3] or rows[:3]
    if len(picked) >= 2:
        compare = CompareDialog(picked, window)
        compare.resize(900, 640)
        out.append(("6-compare", compare))
    out += _editor_dialogs(window)
    return out


def _wizard_pages(window: Any, directory: Path) -> list[Path]:
    """Every page of the guardrail policy wizard, opened to edit the demo's first policy."""
    from fcdesk.core.drafts import draft_from_policy, what_if
    from fcdesk.views.policy_wizard import PolicyWizard, capture_pages

    inv = window.context.inventory
    if not inv.policies:
        return []
    drafts = [draft_from_policy(p) for p in inv.policies]
    draft = max(drafts, key=lambda d: (len(what_if(inv, d).violating), len(d.choices)))
    wizard = PolicyWizard(inv, draft=draft, parent=window)
    wizard.resize(1100, 720)
    try:
        return capture_pages(wizard, directory, prefix="7-policy-wizard")
    finally:
        wizard.close()
        wizard.deleteLater()


def _security_docks(window: Any, app: Any, directory: Path, errors: list[str]) -> list[Path]:
    """The Security posture tab with each kind of detail in its dock: an unhealthy recommendation, a
    jailbreak alert on a deployment whose Jailbreak shield is off, and a subscription without threat
    protection for AI (its guidance, accounts and the per-account action). A pick the data lacks is
    skipped; a PNG that cannot be saved goes to ``errors``."""
    from fcdesk.models.security import JAILBREAK_KEY, alert_targets, is_unhealthy, shield_off

    tab = window.tab("security")
    window.show_tab("security")
    inv = window.context.inventory

    def shield_is_off(alert: Any) -> bool:
        hit = alert_targets(inv, alert)
        return hit.exact and any(shield_off(inv.effective(d).cell(JAILBREAK_KEY)) for d in hit.deployments)

    # (file, table, predicates tried in order): the tab's own screenshot already shows the first row
    picks: list[tuple[str, Any, tuple[Callable[[Any], bool], ...]]] = [
        (
            "4-security-recommendation",
            tab.recommendations_table,
            (lambda r: is_unhealthy(r) and r.severity == "Medium", is_unhealthy),
        ),
        ("4-security-alert", tab.alerts_table, (lambda a: a.is_prompt_attack and shield_is_off(a),)),
        ("4-security-plan", tab.plans_table, (lambda p: not p.enabled, lambda p: True)),
    ]
    saved: list[Path] = []
    for name, table, wanted in picks:
        if not any(table.select_row_object(w) for w in wanted):
            continue
        _settle(app)
        if _save_png(window, directory / f"{name}.png", errors):
            saved.append(directory / f"{name}.png")
    tab.select_first()
    return saved


def _editor_dialogs(window: Any) -> list[tuple[str, Any]]:
    """The guardrail editor on a violating deployment (as a signed-in user sees it), after "Meet
    requirements", and the before → after review it shows before writing."""
    from fcdesk.views.guardrail_editor import GuardrailEditor

    inv = window.context.inventory
    violating = [a.deployment for a in inv.asset_rows() if a.violating]
    if not violating:
        return []
    editor = GuardrailEditor(inv, [violating[0]], colors=window.services.colors, parent=window)
    editor.resize(1180, 760)
    out: list[tuple[str, Any]] = [("8-guardrail-editor", editor)]
    editor.meet_requirements()
    if editor.has_changes() and editor.save_blocked_reason() is None:
        review = editor.review()
        review.hide()
        review.resize(760, 520)
        out.append(("9-guardrail-review", review))
    return out


def _help_and_dark(window: Any, app: Any, directory: Path, errors: list[str]) -> list[Path]:
    """Help → About and Help → Keyboard shortcuts, then the window in the dark palette (the
    Guardrails matrix, whose colours carry the most meaning, and the Policies tab)."""
    from fcdesk.views.theme import Appearance

    saved: list[Path] = []

    def save(widget: Any, name: str) -> None:
        _settle(app)
        if _save_png(widget, directory / f"{name}.png", errors):
            saved.append(directory / f"{name}.png")

    about = window.open_about()
    save(about, "12-about")
    about.close()
    shortcuts = window.open_shortcuts()
    save(shortcuts, "13-shortcuts")
    shortcuts.close()
    theme = window.services.theme
    if theme is None:
        return saved
    before = theme.appearance
    theme.set_appearance(Appearance.DARK)
    try:
        for key in ("guardrails", "policies"):
            window.show_tab(key)
            window.tab(key).select_first()
            save(window, f"14-dark-{key}")
    finally:
        theme.set_appearance(before)
    return saved


def drifted_demo(meta: Any, records: Sequence[Any]) -> tuple[Any, list[Any]]:
    """A later capture of the demo tenant with a few changes of each kind, for the drift screenshot
    (and tests): the production guardrail Contoso-Strict blocks hate in prompts only at High and its
    Jailbreak shield is off (loosened); Eval-AnnotateOnly blocks hate in prompts (tightened); the last
    deployment is gone and a canary deployment is new; a guardrail policy gains an exception, an alert
    is resolved, a recommendation fixed and a Defender for AI plan turned on. Four days later, labelled."""
    import copy
    import dataclasses
    from datetime import timedelta

    from fcdesk.core.records import Kind, RawRecord

    out = [RawRecord(r.kind, r.id, copy.deepcopy(r.body), r.scope) for r in records]

    def filters(guardrail: str) -> list[dict[str, Any]]:
        rail = next(r for r in out if r.kind == Kind.RAI_POLICY and r.body.get("name") == guardrail)
        return rail.body["properties"]["contentFilters"]

    for flt in filters("Contoso-Strict"):
        if (flt["name"], flt["source"]) == ("Hate", "Prompt"):
            flt["severityThreshold"] = "High"
        if flt["name"] == "Jailbreak":
            flt["enabled"] = False
    for flt in filters("Eval-AnnotateOnly"):
        if (flt["name"], flt["source"]) == ("Hate", "Prompt"):
            flt["blocking"] = True
    deployments = [i for i, r in enumerate(out) if r.kind == Kind.DEPLOYMENT]
    first = out[deployments[0]]
    out.pop(deployments[-1])
    canary = copy.deepcopy(first.body)
    canary["id"] = first.id.rsplit("/", 1)[0] + "/gpt-4o-canary"
    canary["name"] = "gpt-4o-canary"
    out.append(RawRecord(Kind.DEPLOYMENT, canary["id"], canary, first.scope))
    # Governance and posture: a guardrail policy gains an exception (loosened), an alert is resolved
    # and a recommendation is fixed (changed), the sandbox's Defender for AI plan turns on (tightened).
    for rec in out:
        props = rec.body.get("properties") if isinstance(rec.body, dict) else None
        if rec.kind == Kind.POLICY_ASSIGNMENT and isinstance(props, dict) and props.get("notScopes") == []:
            scope = str(props.get("scope") or "").lower()
            victim = next(
                (r for r in out if r.kind == Kind.DEPLOYMENT and r.id.lower().startswith(scope + "/")), None
            )
            if scope and victim is not None:
                props["notScopes"] = [victim.id]
                break
    alert = next(r for r in out if r.kind == Kind.ALERT and r.body["properties"].get("status") == "Active")
    alert.body["properties"]["status"] = "Resolved"
    for rec in out:
        status = rec.body.get("properties", {}).get("status") if rec.kind == Kind.ASSESSMENT else None
        if isinstance(status, dict) and status.get("code") == "Unhealthy":
            status["code"] = "Healthy"
            break
    for rec in out:
        if rec.kind == Kind.PRICING and rec.body.get("name") == "AI":
            if rec.body["properties"].get("pricingTier") == "Free":
                rec.body["properties"]["pricingTier"] = "Standard"
                break
    later = dataclasses.replace(
        meta, captured_at=meta.captured_at + timedelta(days=4), label="after the change"
    )
    return later, out


async def _library_and_drift(window: Any, directory: Path) -> list[Path]:
    """The snapshot library browser and the drift view, on a library built in a temp folder (the
    user's library is never touched): a baseline of the demo tenant, an older and a partial capture,
    and a later one with changes of every kind (:func:`drifted_demo`), compared with the baseline."""
    import dataclasses
    import tempfile
    from datetime import timedelta

    from fcdesk.app import load_inventory
    from fcdesk.core.demo import generate
    from fcdesk.core.records import ScopeError, Source
    from fcdesk.store.library import SnapshotLibrary
    from fcdesk.views.drift_dialog import DriftDialog, Side
    from fcdesk.views.library_dialog import LibraryDialog

    saved: list[Path] = []
    meta, records = generate(1, 0)
    meta = dataclasses.replace(meta, source=Source.LIVE)
    later, changed = drifted_demo(meta, records)
    sandbox = meta.scopes[-1]
    partial = dataclasses.replace(
        meta,
        captured_at=meta.captured_at - timedelta(days=2, hours=5),
        partial=True,
        errors=[ScopeError(f"/subscriptions/{sandbox}", "Access denied", "AuthorizationFailed")],
    )
    with tempfile.TemporaryDirectory(prefix="fcdesk-self-test-") as tmp:
        library = SnapshotLibrary(Path(tmp))
        captures = [
            (dataclasses.replace(meta, captured_at=meta.captured_at - timedelta(days=9)), records),
            (partial, records),
            (dataclasses.replace(meta, label="baseline before the Q4 review"), records),
            (later, changed),
        ]
        paths = [await asyncio.to_thread(library.save, m, r) for m, r in captures]
        colors = window.services.colors
        browser = LibraryDialog(library, window, open_path=lambda: paths[-1], colors=colors)
        loaded = asyncio.Event()
        browser.loaded.connect(lambda _n: loaded.set())
        browser.resize(1240, 640)
        browser.show()
        await loaded.wait()
        browser.select_paths([paths[2]])
        await asyncio.sleep(0.2)
        if browser.grab().save(str(directory / "10-library.png")):
            saved.append(directory / "10-library.png")
        browser.close()

        drift = DriftDialog(lambda p: load_inventory(p).inventory, window, colors=colors)
        computed = asyncio.Event()
        drift.computed.connect(lambda _d: computed.set())
        drift.resize(1240, 700)
        drift.show()
        drift.compare(Side(paths[2]), Side(paths[3]))
        await asyncio.wait_for(computed.wait(), timeout=30)
        await asyncio.sleep(0.2)
        if drift.grab().save(str(directory / "11-drift.png")):
            saved.append(directory / "11-drift.png")
        drift.close()
    return saved


def _run_async(app: Any, work: Any) -> Any:
    """Run a coroutine on a qasync loop over ``app`` (the self-test itself drives Qt by hand)."""
    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(work)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def run_self_test(snapshot: Path | None, screenshots: Path | None, *, t0: float | None = None) -> int:
    result: dict[str, Any] = {
        "ok": False,
        "startup_ms": None,
        "tabs": {},
        "screenshots": [],
        "snapshot": None,
        "errors": [],
        "warnings": [],
    }
    try:
        _run(result, snapshot, screenshots, t0)
    except Exception as exc:  # the self-test reports every failure in its JSON, never a traceback
        result["errors"].append(f"{type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc(limit=6)
    result["ok"] = not result["errors"] and not result["warnings"]
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["ok"] else 1


def _run(result: dict[str, Any], snapshot: Path | None, screenshots: Path | None, t0: float | None) -> None:
    from PySide6.QtCore import QEvent, QObject, QtMsgType
    from PySide6.QtWidgets import QApplication

    from fcdesk.app import startup_snapshot
    from fcdesk.gui import _startup_load, build_window, install_qt_log_bridge, make_app

    def sink(mode: QtMsgType, message: str) -> None:
        if mode in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            if not any(s in message for s in IGNORED_QT_MESSAGES):
                result["warnings"].append(message)

    app = make_app()
    install_qt_log_bridge(sink)
    path = startup_snapshot(snapshot)
    result["snapshot"] = str(path)
    loaded, error = _startup_load(path)
    if error is not None:
        result["errors"].append(error)
        return
    if loaded is None:
        from fcdesk.app import load_inventory

        loaded = load_inventory(path)
    window = build_window(app, loaded, settings=None)

    painted: list[float] = []

    class PaintWatch(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(time.perf_counter())
            return False

    watch = PaintWatch()
    window.installEventFilter(watch)
    window.tabs.installEventFilter(watch)
    window.show()
    deadline = time.perf_counter() + 15
    while not painted and time.perf_counter() < deadline:
        app.processEvents()
    if not painted:
        window.grab()  # offscreen platforms may not paint until asked
        painted.append(time.perf_counter())
    uptime = process_uptime_ms()
    elapsed_since_t0 = (painted[0] - t0) * 1000.0 if t0 is not None else None
    if uptime is not None:
        startup = uptime - (time.perf_counter() - painted[0]) * 1000.0
    else:
        startup = elapsed_since_t0
    result["startup_ms"] = round(startup, 1) if startup is not None else None

    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    for index, tab in enumerate(window.workspace_tabs):
        window.show_tab(tab.key)
        _settle(app)
        tab.select_first()
        _settle(app)
        result["tabs"][tab.base_title] = tab.rows_shown()
        if screenshots is not None:
            out = screenshots / f"{index + 1}-{tab.key}.png"
            if _save_png(window, out, result["errors"]):
                result["screenshots"].append(str(out))
    if screenshots is not None:
        result["screenshots"] += [str(p) for p in _security_docks(window, app, screenshots, result["errors"])]
        result["screenshots"] += [str(p) for p in _wizard_pages(window, screenshots)]
    for name, widget in _dialogs(window):
        widget.show()
        _settle(app)
        if screenshots is not None:
            out = screenshots / f"{name}.png"
            if _save_png(widget, out, result["errors"]):
                result["screenshots"].append(str(out))
        widget.close()
    if screenshots is not None:
        result["screenshots"] += [str(p) for p in _run_async(app, _library_and_drift(window, screenshots))]
        result["screenshots"] += [str(p) for p in _help_and_dark(window, app, screenshots, result["errors"])]
    window.close()
    app.processEvents()
    QApplication.processEvents()
    sys.stdout.flush()
