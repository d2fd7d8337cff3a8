"""The window's write flows: create, edit and delete guardrail policies; Fix now; threat protection
for AI and Microsoft Purview (Security posture tab); the audit log.

:class:`WriteFlows` connects the tabs' write signals to the dialogs (:class:`PolicyWizard`,
:class:`GuardrailEditor`) and sends what they produce through the injected
:class:`~fcdesk.actions.Actions` of the signed-in session. After every write the window's inventory
is patched with the targets as Azure returned them (``Inventory.patched``), so the tabs and the
local evaluation update at once and the policies involved show "Pending evaluation (since …)" until
Azure's new verdicts arrive with a refresh. A failed write shows what happened and the targets'
true state (re-read by :class:`Actions`); a conflict says that nothing was written.

The Security posture writes (the Defender for AI plan of a subscription, an account's Defender for
AI setting, the Purview extension of the plan) first read the resource as it is now, then ask for
confirmation (what changes, that it is billed, the request), then write what was read as ``seen``.

Every step runs on the qasync loop; no dialog blocks it (dialogs are opened with ``open()``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget
from qasync import asyncSlot

from fcdesk.core.drafts import ControlChoice, PolicyDraft, draft_from_policy, scope_text
from fcdesk.core.guardrails import BASELINE, CATALOGUE, CellState
from fcdesk.core.inventory import Inventory, MatrixRow
from fcdesk.core.model import Deployment, id_segment, idkey
from fcdesk.core.policy import GuardrailPolicy
from fcdesk.core.records import Kind, RawRecord
from fcdesk.models.palette import StateColors
from fcdesk.models.workspace import (
    DEFENDER_ACCOUNT_RIGHTS,
    GUARDRAIL_RIGHTS,
    POLICY_RIGHTS,
    PURVIEW_RIGHTS,
    SECURITY_RIGHTS,
    WorkspaceContext,
)

if TYPE_CHECKING:
    from fcdesk.actions import Actions, ArmCall, WriteResult
    from fcdesk.store.audit import AuditLog

log = logging.getLogger(__name__)


def plain_box(
    parent: QWidget, icon: QMessageBox.Icon, title: str, text: str, detail: str = ""
) -> QMessageBox:
    """A message box whose text is never interpreted as markup (names come from Azure)."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if detail:
        box.setDetailedText(detail)
    return box


class WriteFlows(QObject):
    """Signals:
    written(object): a write succeeded (its :class:`~fcdesk.actions.WriteResult`), inventory patched.
    writeFailed(str): a write failed or conflicted (the message shown).
    busyChanged(bool): a write started or ended (the window holds refreshes meanwhile).
    """

    written = Signal(object)
    writeFailed = Signal(str)
    busyChanged = Signal(bool)

    def __init__(
        self,
        context: WorkspaceContext,
        window: QWidget,
        *,
        colors: StateColors | None = None,
        audit: AuditLog | None = None,
        status: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(window)
        self.context = context
        self.window = window
        self.colors = colors
        self.audit = audit
        self._status = status or (lambda _text: None)
        self.actions: Actions | None = None
        self.wizard: Any = None  #: the open PolicyWizard, if any
        self.editor: Any = None  #: the open GuardrailEditor, if any
        self.audit_dialog: Any = None
        self.busy = False  #: a write is being sent: one at a time

    # ------------------------------------------------------------------------------ wiring

    def set_actions(self, actions: Actions | None) -> None:
        """The signed-in session's writer (None after sign-out): rights are checked through it."""
        self.actions = actions
        self.context.set_rights_checker(self._check_rights if actions is not None else None)

    async def _check_rights(self, kind: str, scope: str) -> Any:
        actions = self.actions
        if actions is None:
            raise RuntimeError("not signed in")
        if kind == POLICY_RIGHTS:
            return await actions.rights_for_policies(scope)
        if kind == GUARDRAIL_RIGHTS:
            return await actions.rights_for_guardrail(scope)
        if kind == SECURITY_RIGHTS:
            return await actions.rights_for_defender(id_segment(scope, "subscriptions") or scope)
        if kind == PURVIEW_RIGHTS:
            return await actions.rights_for_purview(id_segment(scope, "subscriptions") or scope)
        if kind == DEFENDER_ACCOUNT_RIGHTS:
            return await actions.rights_for_defender_account(scope)
        raise ValueError(f"unknown kind of write: {kind}")

    def connect_tabs(self, policies: Any, assets: Any, guardrails: Any, security: Any = None) -> None:
        """Connect the tabs' write requests (``security``: the Security posture tab, optional)."""
        policies.createPolicyRequested.connect(lambda: self.open_wizard())
        policies.editPolicyRequested.connect(lambda p: self.open_wizard(draft_from_policy(p)))
        policies.deletePolicyRequested.connect(self.delete_policy)
        policies.fixNowRequested.connect(lambda d: self.fix([d]))
        policies.fixManyRequested.connect(self.fix_many)
        assets.viewInBuildRequested.connect(lambda d: self.fix([d]))
        guardrails.editGuardrailRequested.connect(lambda row: self.fix([row.deployment]))
        guardrails.createPolicyFromGapsRequested.connect(self.policy_from_gaps)
        if security is not None:
            security.enableThreatProtectionRequested.connect(self.enable_threat_protection)
            security.enableAccountProtectionRequested.connect(self.enable_account_protection)
            security.purviewToggleRequested.connect(self.set_purview)

    def _say(self, text: str) -> None:
        self._status(text)

    def _patch(self, result: WriteResult, extra_pending: dict[str, datetime] | None = None) -> None:
        pending = dict(result.pending)
        pending.update(extra_pending or {})
        self.context.pending.update(pending)
        inv = self.context.inventory.patched(result.records, result.removed, pending=self.context.pending)
        self.context.set_inventory(inv, self.context.info)

    # ------------------------------------------------------------------------------ policies

    def open_wizard(self, draft: PolicyDraft | None = None) -> Any:
        """Open the wizard (create, or edit ``draft``); on Finish the draft is written."""
        from fcdesk.views.policy_wizard import PolicyWizard

        if self.wizard is not None and shiboken6.isValid(self.wizard) and self.wizard.isVisible():
            self.wizard.raise_()
            return self.wizard
        subs = self.context.scope.subscriptions
        default_scope = f"/subscriptions/{next(iter(subs))}" if subs and len(subs) == 1 else None
        wizard = PolicyWizard(
            self.context.inventory,
            draft=draft,
            default_scope=default_scope,
            rights=self._wizard_rights if self.actions is not None else None,
            parent=self.window,
        )
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.accepted.connect(lambda w=wizard: self.apply_policy(w.result_draft()))
        self.wizard = wizard
        wizard.open()
        return wizard

    async def _wizard_rights(self, scope: str) -> Any:
        return await self.context.rights_answer(POLICY_RIGHTS, scope, fresh=True)

    def policy_from_gaps(self, rows: list[MatrixRow]) -> Any:
        """A wizard pre-filled with Microsoft's default level for every control with a gap."""
        gaps = {i for row in rows for i in row.gaps}
        keys = {CATALOGUE[i].key for i in gaps if BASELINE[i].state is CellState.BLOCK}
        choices: list[ControlChoice] = []
        for name in dict.fromkeys(c.name for c in CATALOGUE if c.key in keys):
            sources = tuple(c.source for c in CATALOGUE if c.key in keys and c.name == name)
            index = next(i for i, c in enumerate(CATALOGUE) if c.key == (name, sources[0]))
            choices.append(ControlChoice(name, sources, BASELINE[index].threshold))
        subs = {r.deployment.subscription_id for r in rows}
        scope = f"/subscriptions/{next(iter(subs))}" if len(subs) == 1 else ""
        return self.open_wizard(
            PolicyDraft(scope=scope, choices=choices, display_name="Close guardrail gaps")
        )

    @asyncSlot(object)
    async def apply_policy(self, draft: PolicyDraft) -> None:
        actions = self.actions
        if actions is None:
            return
        if draft.scope_changed and draft.existing is not None:
            box = plain_box(
                self.window,
                QMessageBox.Icon.Question,
                "Move the guardrail policy?",
                f"Azure cannot move a policy assignment. '{draft.existing.label}' will be deleted from "
                f"{scope_text(draft.existing.scope)} and created again on {scope_text(draft.scope)}.\n\n"
                "Its compliance results start over.",
            )
            box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
            box.button(QMessageBox.StandardButton.Ok).setText("Delete and re-create")
            if await _ask(box) != QMessageBox.StandardButton.Ok:
                self._say("Nothing was changed: the wizard is open again with what you entered.")
                self.open_wizard(draft)
                return
        verb = "Saving" if draft.is_edit else "Creating"
        self._say(f"{verb} the guardrail policy '{draft.display_name}'…")
        ok, _message, _partial = await self._run(
            actions.apply_policy(draft), f"Could not save the guardrail policy '{draft.display_name}'"
        )
        if not ok:  # what was entered is not lost: the wizard opens again on it
            self.open_wizard(draft)

    @asyncSlot(object)
    async def delete_policy(self, policy: GuardrailPolicy) -> None:
        actions = self.actions
        if actions is None:
            return
        box = plain_box(
            self.window,
            QMessageBox.Icon.Warning,
            "Delete guardrail policy?",
            f"Delete the guardrail policy '{policy.label}' on {scope_text(policy.scope)}?\n\n"
            "Azure Policy stops auditing its deployments; their guardrails are not changed.",
            "\n".join(c.text() for c in actions.delete_calls(policy)),
        )
        box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Ok).setText("Delete")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if await _ask(box) != QMessageBox.StandardButton.Ok:
            return
        self._say(f"Deleting the guardrail policy '{policy.label}'…")
        await self._run(
            actions.delete_policy(policy), f"Could not delete the guardrail policy '{policy.label}'"
        )

    def _held(self) -> bool:
        """Whether a write may not start now (another is running, or a refresh): says why."""
        reason = "Another change is being written: wait for it to finish." if self.busy else None
        reason = reason or self.context.write_disabled_reason
        if reason is not None:
            self._say(reason)
            return True
        return False

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busyChanged.emit(busy)

    async def _run(
        self, write: Any, failure_title: str, pending: dict[str, datetime] | None = None, *, box: bool = True
    ) -> tuple[bool, str, bool]:
        """Await a write; patch the inventory and say so, or show the failure.

        Returns ``(ok, message, partial)``: ``partial`` when some steps were written before a failure.
        """
        if self._held():
            if hasattr(write, "close"):
                write.close()  # the coroutine is never awaited
            return False, self.context.write_disabled_reason or "Another change is being written.", False
        self._set_busy(True)
        try:
            return await self._run_write(write, failure_title, pending, box=box)
        finally:
            self._set_busy(False)

    async def _run_write(
        self, write: Any, failure_title: str, pending: dict[str, datetime] | None, *, box: bool
    ) -> tuple[bool, str, bool]:
        from fcdesk.actions import ConflictError, RefusedError, WriteFailed

        try:
            result = await write
        except ConflictError as exc:
            self._failed(failure_title, exc.user_message, show=box)
            return False, exc.user_message, False
        except WriteFailed as exc:
            if exc.reread or exc.removed:
                inv = self.context.inventory.patched(exc.reread, exc.removed)
                self.context.set_inventory(inv, self.context.info)
            done = (
                ("\n\nDone before the failure:\n" + "\n".join(f"• {d}" for d in exc.done)) if exc.done else ""
            )
            shown = (
                "\n\nThe window now shows the resources as Azure has them."
                if exc.reread or exc.removed
                else ""
            )
            self._failed(failure_title, exc.user_message + done + shown, show=box)
            return False, exc.user_message + done, bool(exc.done)
        except RefusedError as exc:
            self._failed(failure_title, exc.user_message, show=box)
            return False, exc.user_message, False
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is shown, never swallowed
            log.exception("write failed")
            message = getattr(exc, "user_message", "") or f"{type(exc).__name__}: {exc}"
            self._failed(failure_title, message, show=box)
            return False, message, False
        self._patch(result, pending)
        self._say(result.message)
        self.written.emit(result)
        return True, result.message, False

    def _failed(self, title: str, message: str, *, show: bool = True) -> None:
        self._say(f"{title}.")
        self.writeFailed.emit(message)
        if show:
            self._show_failure(title, message)

    def _show_failure(self, title: str, message: str) -> None:
        box = plain_box(self.window, QMessageBox.Icon.Warning, title, message)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("writeFailedBox")
        box.open()

    # ------------------------------------------------------------------------------ guardrails

    def fix_many(self, deployments: list[Deployment]) -> None:
        """Fix several deployments with one guardrail: one account at a time (guardrails are per account)."""
        by_account: dict[str, list[Deployment]] = {}
        for dep in deployments:
            by_account.setdefault(dep.account_key, []).append(dep)
        if len(by_account) <= 1:
            self.fix(deployments)
            return
        groups = list(by_account.values())
        # Unique labels: two accounts may share a name in different resource groups.
        labels = [
            f"{deps[0].account_name} (resource group {deps[0].resource_group}, {len(deps)} deployments)"
            for deps in groups
        ]
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Fix violating deployments")
        dialog.setLabelText(
            f"The violating deployments are on {len(groups)} accounts, and a guardrail belongs to one "
            "account. Fix the deployments of which account first?"
        )
        dialog.setComboBoxItems(labels)
        dialog.setComboBoxEditable(False)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setObjectName("fixManyDialog")

        def chosen(text: str) -> None:
            picked = groups[labels.index(text)]
            left = sum(len(g) for g in groups) - len(picked)
            self._say(f"{left} violating deployments on other accounts are left: fix them next.")
            self.fix(picked)

        dialog.textValueSelected.connect(chosen)
        dialog.open()

    @asyncSlot(object)
    async def fix(self, deployments: list[Deployment]) -> None:
        """Open the guardrail editor on the deployments' current state (re-read from Azure first)."""
        from fcdesk.views.guardrail_editor import GuardrailEditor

        if not deployments:
            return
        if self.editor is not None and shiboken6.isValid(self.editor) and self.editor.isVisible():
            self.editor.raise_()
            return
        if self.busy:
            self._say("Another change is being written: wait for it to finish.")
            return
        actions = self.actions
        targets = None
        if actions is not None:
            self._say("Reading the current guardrail from Azure…")
            names = {(d.rai_policy_name or "") for d in deployments}
            rai = next(iter(names)) if len(names) == 1 else None
            rai = rai if rai and not rai.lower().startswith("microsoft.") else None
            try:
                targets = await actions.read_targets(
                    deployments[0].account_id, rai, [d.id for d in deployments]
                )
            except Exception as exc:  # noqa: BLE001 - shown; the editor is not opened on stale data
                self._failed("Could not read the guardrail", getattr(exc, "user_message", str(exc)))
                return
            records = _target_records(targets)
            if records:  # the inventory shown now (a refresh may have finished meanwhile)
                self.context.set_inventory(self.context.inventory.patched(records), self.context.info)
            self._say("")
        inv = self.context.inventory
        current = _current(inv, deployments)
        reason = self.context.write_disabled_reason
        editor = GuardrailEditor(
            inv, current, colors=self.colors, read_only_reason=reason, parent=self.window
        )
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.saveRequested.connect(lambda save, e=editor, t=targets: self._save_guardrail(e, save, t))
        self.editor = editor
        editor.open()
        if reason is None and self.actions is not None:
            answer = await self.context.rights_answer(GUARDRAIL_RIGHTS, current[0].account_id)
            if answer is not None and not answer.allowed and shiboken6.isValid(editor):
                editor.set_read_only_reason(answer.reason)

    @asyncSlot(object, object, object)
    async def _save_guardrail(self, editor: Any, save: Any, targets: Any) -> None:
        from fcdesk.actions import GuardrailChange, GuardrailTargets

        actions = self.actions
        if actions is None:
            editor.save_finished(False, "Not signed in: nothing was written.")
            return
        seen = targets or GuardrailTargets(save.account_id, None, {})
        template = seen.rai_policy  # the custom guardrail the deployments had (a new one copies it)
        if (
            seen.rai_policy is not None
            and str(seen.rai_policy.get("name", "")).lower() != save.rai_policy_name.lower()
        ):
            seen = GuardrailTargets(
                seen.account_id, None, seen.deployments
            )  # a new guardrail, not the one read
        if save.create is False and seen.rai_policy is None:
            # updating a custom guardrail that was not read when the editor opened (several names)
            fresh = await actions.read_targets(save.account_id, save.rai_policy_name, [])
            seen = GuardrailTargets(seen.account_id, fresh.rai_policy, seen.deployments)
        inv = self.context.inventory
        governing = {
            pol.key
            for dep in inv.deployments
            if dep.key in {idkey(i) for i in save.deployment_ids}
            for pol in inv.governing(dep)
        }
        if save.update_shared:  # the other deployments on the shared guardrail change too
            rail = save.rai_policy_name.lower()
            governing |= {
                pol.key
                for dep in inv.deployments
                if dep.account_key == idkey(save.account_id) and (dep.rai_policy_name or "").lower() == rail
                for pol in inv.governing(dep)
            }
        change = GuardrailChange(
            account_id=save.account_id,
            rai_policy_name=save.rai_policy_name,
            plan=save.plan,
            deployment_ids=list(save.deployment_ids),
            seen=seen,
            create=save.create,
            governing=sorted(governing),
            template=template if save.create else None,
        )
        ok, message, partial = await self._run(
            actions.apply_guardrail(change, on_progress=lambda text: _progress(editor, text)),
            f"Could not save the guardrail '{save.rai_policy_name}'",
            box=False,  # the editor shows the failure in its own banner
        )
        if not shiboken6.isValid(editor):
            return
        if partial:
            # Part was written: the editor's "current" state and etags are out of date. Close it
            # and say what happened; opening it again starts from Azure's true state.
            editor.save_finished(False, message)
            editor.done(0)
            self._show_failure(
                f"Could not save the guardrail '{save.rai_policy_name}'",
                message + "\n\nThe window shows the resources as Azure has them now. Open the editor "
                "again to continue from there.",
            )
            return
        editor.save_finished(ok, message)

    # ------------------------------------------------------------------------------ threat protection

    async def _read_plan(self, actions: Actions, subscription_id: str, name: str) -> tuple[bool, Any]:
        """The Defender for AI plan of a subscription as Azure has it now: ``(read, body or None)``."""
        return await self._read_now(
            actions.read_ai_plan(subscription_id), f"Could not read the Defender for AI plan of '{name}'"
        )

    @asyncSlot(str)
    async def enable_threat_protection(self, subscription_id: str) -> None:
        """Turn on threat protection for AI (the Defender for AI plan, Standard) for a subscription."""
        from fcdesk.actions import BILLING_NOTE

        actions = self.actions
        if actions is None:
            return
        name = self.context.inventory.subscription_name(subscription_id)
        read, current = await self._read_plan(actions, subscription_id, name)
        if not read:
            return
        if _tier(current) == "standard":
            self._show_as_read(Kind.PRICING, current, f"/subscriptions/{subscription_id}")
            self._say(f"Threat protection for AI is already on for '{name}': nothing was changed.")
            return
        text = (
            f"Turn on threat protection for AI services for the subscription '{name}'?\n\n"
            f"Its Defender for AI plan goes from {_tier_text(current)} to Standard: Defender then raises "
            "alerts for jailbreak attempts and other threats to the subscription's AI resources.\n\n"
            + BILLING_NOTE
        )
        calls = actions.ai_plan_calls(subscription_id, current, enable=True)
        await self._confirm_and_run(
            actions,
            ("Enable threat protection for AI?", text, calls, "Enable (billed)"),
            lambda: actions.set_ai_plan(subscription_id, current, enable=True),
            f"turn on threat protection for AI for '{name}'",
        )

    @asyncSlot(str)
    async def enable_account_protection(self, account_id: str) -> None:
        """Turn on threat protection for AI for one account (its Defender for AI setting)."""
        from fcdesk.actions import BILLING_NOTE

        actions = self.actions
        if actions is None:
            return
        name = id_segment(account_id, "accounts") or account_id
        read, current = await self._read_now(
            actions.read_defender_setting(account_id),
            f"Could not read the Defender for AI setting of the account '{name}'",
        )
        if not read:
            return
        state = _state(current)
        if state.lower() == "enabled":
            self._show_as_read(Kind.DEFENDER_AI_SETTING, current, account_id)
            self._say(
                f"Threat protection for AI is already on for the account '{name}': nothing was changed."
            )
            return
        sub = id_segment(account_id, "subscriptions") or ""
        plan = self.context.inventory.plans.get(sub.lower())
        plan_note = (
            ""
            if plan is not None and plan.enabled
            else "\n\nThe subscription's Defender for AI plan is not on (Standard) in the data in hand: "
            "this setting decides whether the account is covered once the plan is on; turn the plan on "
            "too for alerts."
        )
        text = (
            f"Turn on threat protection for AI services for the account '{name}'?\n\n"
            f"Its Defender for AI setting goes from {state or 'not set'} to Enabled, so Defender covers "
            "the account's deployments (jailbreak attempts and other threats)."
            + plan_note
            + "\n\n"
            + BILLING_NOTE
        )
        calls = actions.defender_setting_calls(account_id, current, enabled=True)
        await self._confirm_and_run(
            actions,
            ("Enable threat protection for AI?", text, calls, "Enable (billed)"),
            lambda: actions.set_defender_setting(account_id, current, enabled=True),
            f"turn on threat protection for AI for the account '{name}'",
        )

    @asyncSlot(str, bool)
    async def set_purview(self, subscription_id: str, on: bool) -> None:
        """Turn Microsoft Purview on or off for a subscription: the AIPromptSharingWithPurview extension
        of its Defender for AI plan (turning it on also turns the billed plan on)."""
        from fcdesk.actions import BILLING_NOTE, PURVIEW_NOTE_WRITE

        actions = self.actions
        if actions is None:
            return
        name = self.context.inventory.subscription_name(subscription_id)
        read, current = await self._read_plan(actions, subscription_id, name)
        if not read:
            return
        plan_on = _tier(current) == "standard"
        if (plan_on and _purview(current)) == on:
            self._show_as_read(Kind.PRICING, current, f"/subscriptions/{subscription_id}")
            self._say(
                f"Microsoft Purview is already {'on' if on else 'off'} for '{name}': nothing was changed."
            )
            return
        if on:
            title, button = "Turn on Microsoft Purview?", "Turn on (billed)"
            plan = (
                f"Threat protection for AI is off on this subscription: this also turns its Defender for AI "
                f"plan on ({_tier_text(current)} → Standard)."
                if not plan_on
                else "The Defender for AI plan is already on (Standard) and stays on."
            )
            text = (
                f"Turn on Microsoft Purview for the AI interactions of the subscription '{name}'? Prompts "
                "and responses of its Foundry apps and agents are then shared with Microsoft Purview.\n\n"
                f"{PURVIEW_NOTE_WRITE}\n\n{plan} {BILLING_NOTE}"
            )
        else:
            title, button = "Turn off Microsoft Purview?", "Turn off"
            text = (
                f"Turn off Microsoft Purview for the AI interactions of the subscription '{name}'? Prompts "
                "and responses are no longer shared with Microsoft Purview.\n\n"
                "The Defender for AI plan stays on (Standard), and billed."
            )
        calls = actions.ai_plan_calls(subscription_id, current, purview=on)
        await self._confirm_and_run(
            actions,
            (title, text, calls, button),
            lambda: actions.set_ai_plan(subscription_id, current, purview=on),
            f"turn Microsoft Purview {'on' if on else 'off'} for '{name}'",
        )

    async def _confirm_and_run(
        self,
        actions: Actions,
        confirmation: tuple[str, str, list[ArmCall], str],
        write: Callable[[], Awaitable[WriteResult]],
        action: str,
    ) -> None:
        """Ask (title, text, the requests, the OK button's words), then write. ``action``: "turn on X"."""
        if not await self._confirm(actions, *confirmation):
            return
        self._say(f"Turning{action.removeprefix('turn')}…")
        await self._run(write(), f"Could not {action}")

    async def _read_now(
        self, read: Awaitable[Mapping[str, Any] | None], failure_title: str
    ) -> tuple[bool, Mapping[str, Any] | None]:
        """The resource as Azure has it now (None: it does not exist): ``(read, body)``. A failed read
        is shown and ``read`` is False: nothing is confirmed nor written on data that was not read."""
        self._say("Reading the current setting from Azure…")
        try:
            body = await read
        except Exception as exc:  # noqa: BLE001 - shown; the write is not offered on unread data
            self._failed(failure_title, getattr(exc, "user_message", "") or f"{type(exc).__name__}: {exc}")
            return False, None
        self._say("")
        return True, body

    def _show_as_read(self, kind: Kind, body: Mapping[str, Any] | None, scope: str) -> None:
        """Show a resource as just read (someone else changed it since the window's capture)."""
        if body and body.get("id"):
            inv = self.context.inventory.patched([RawRecord(kind, str(body["id"]), dict(body), scope)])
            self.context.set_inventory(inv, self.context.info)

    async def _confirm(self, actions: Actions, title: str, text: str, calls: list[ArmCall], ok: str) -> bool:
        """Ask before writing: ``text`` (plain), the requests in the details; True when confirmed."""
        endpoint = actions.cloud.arm_endpoint
        detail = "\n\n".join(f"{c.what}:\n{c.text(endpoint)}" for c in calls)
        box = plain_box(self.window, QMessageBox.Icon.Question, title, text, detail)
        box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Ok).setText(ok)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if await _ask(box) == QMessageBox.StandardButton.Ok:
            return True
        self._say("Nothing was changed.")
        return False

    # ------------------------------------------------------------------------------ audit

    def open_audit_log(self) -> Any:
        from fcdesk.views.audit_dialog import AuditDialog

        if self.audit is None:
            return None
        if (
            self.audit_dialog is not None
            and shiboken6.isValid(self.audit_dialog)
            and self.audit_dialog.isVisible()
        ):
            self.audit_dialog.raise_()
            return self.audit_dialog
        dialog = AuditDialog(self.audit, parent=self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.audit_dialog = dialog
        dialog.open()
        return dialog


def _progress(editor: Any, text: str) -> None:
    if shiboken6.isValid(editor):
        editor.set_progress(text)


def _current(inv: Inventory, deployments: list[Deployment]) -> list[Deployment]:
    """The same deployments in (a possibly patched) inventory."""
    keys = [d.key for d in deployments]
    by_key = {d.key: d for d in inv.deployments}
    return [by_key.get(k, d) for k, d in zip(keys, deployments, strict=True)]


def _target_records(targets: Any) -> list[Any]:
    out = []
    if targets.rai_policy is not None:
        body = targets.rai_policy
        out.append(RawRecord(Kind.RAI_POLICY, str(body.get("id", "")), dict(body), targets.account_id))
    for body in targets.deployments.values():
        out.append(RawRecord(Kind.DEPLOYMENT, str(body.get("id", "")), dict(body), targets.account_id))
    return out


def _properties(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    props = body.get("properties") if body else None
    return props if isinstance(props, Mapping) else {}


def _tier(pricing: Mapping[str, Any] | None) -> str:
    """The AI plan's tier, lower case ("free" when there is no pricing)."""
    return str(_properties(pricing).get("pricingTier") or "Free").lower()


def _tier_text(pricing: Mapping[str, Any] | None) -> str:
    return str(_properties(pricing).get("pricingTier") or "Free")


def _purview(pricing: Mapping[str, Any] | None) -> bool:
    """Whether the plan's AIPromptSharingWithPurview extension is on (as read; "True"/"False")."""
    from fcdesk.actions import PURVIEW_EXTENSION

    for ext in _properties(pricing).get("extensions") or []:
        if isinstance(ext, Mapping) and str(ext.get("name", "")).lower() == PURVIEW_EXTENSION.lower():
            return str(ext.get("isEnabled")).lower() == "true"
    return False


def _state(setting: Mapping[str, Any] | None) -> str:
    """A Defender for AI setting's state ("" when there is none)."""
    return str(_properties(setting).get("state") or "")


async def _ask(box: QMessageBox) -> Any:
    """Show a message box without blocking the loop; the clicked standard button."""
    import asyncio

    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    box.finished.connect(
        lambda _code: future.done() or future.set_result(box.standardButton(box.clickedButton()))
    )
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("confirmBox")
    box.open()
    return await future
