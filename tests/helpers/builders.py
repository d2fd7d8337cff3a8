"""Hand-written raw ARM records (the published wire shapes) and small inventories built from them.

Use these when a test needs exact control over guardrails; ``fcdesk.core.demo.generate`` gives a
whole realistic tenant instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from fcdesk.core.inventory import Inventory
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta

CAPTURED_AT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def subscription(sub_id: str, display_name: str) -> RawRecord:
    arm_id = f"/subscriptions/{sub_id}"
    body = {"id": arm_id, "subscriptionId": sub_id, "displayName": display_name, "state": "Enabled"}
    return RawRecord(Kind.SUBSCRIPTION, arm_id, body, arm_id)


def account_id(sub_id: str, rg: str, name: str) -> str:
    return (
        f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{name}"
    )


def account(
    acct_id: str,
    *,
    kind: str = "AIServices",
    location: str = "eastus",
    projects: bool = True,
    properties: dict[str, Any] | None = None,
) -> RawRecord:
    body = {
        "id": acct_id,
        "name": acct_id.rsplit("/", 1)[-1],
        "type": "Microsoft.CognitiveServices/accounts",
        "location": location,
        "kind": kind,
        "sku": {"name": "S0"},
        "properties": {
            "allowProjectManagement": projects,
            "provisioningState": "Succeeded",
            **(properties or {}),
        },
    }
    return RawRecord(Kind.ACCOUNT, acct_id, body, acct_id)


def project(acct_id: str, name: str, display_name: str = "") -> RawRecord:
    arm_id = f"{acct_id}/projects/{name}"
    body = {
        "id": arm_id,
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts/projects",
        "properties": {
            "displayName": display_name or name,
            "isDefault": False,
            "provisioningState": "Succeeded",
        },
    }
    return RawRecord(Kind.PROJECT, arm_id, body, acct_id)


def deployment(
    acct_id: str,
    name: str,
    rai_policy: str | None = None,
    *,
    model: str = "gpt-4o",
    version: str = "2024-11-20",
    sku: str = "GlobalStandard",
    capacity: int = 10,
) -> RawRecord:
    arm_id = f"{acct_id}/deployments/{name}"
    props: dict[str, Any] = {
        "model": {"format": "OpenAI", "name": model, "version": version},
        "provisioningState": "Succeeded",
    }
    if rai_policy is not None:
        props["raiPolicyName"] = rai_policy
    body = {
        "id": arm_id,
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts/deployments",
        "sku": {"name": sku, "capacity": capacity},
        "properties": props,
    }
    return RawRecord(Kind.DEPLOYMENT, arm_id, body, acct_id)


def flt(
    name: str,
    source: str,
    *,
    enabled: bool = True,
    blocking: bool = True,
    threshold: str | None = None,
    legacy: bool = False,
) -> dict[str, Any]:
    """One ``contentFilters[]`` entry; ``legacy`` spells the threshold ``allowedContentLevel`` (older api)."""
    entry: dict[str, Any] = {"name": name, "blocking": blocking, "enabled": enabled, "source": source}
    if threshold is not None:
        entry["allowedContentLevel" if legacy else "severityThreshold"] = threshold
    return entry


def rai_policy(
    acct_id: str,
    name: str,
    filters: Sequence[dict[str, Any]],
    *,
    base: str | None = "Microsoft.DefaultV2",
    mode: str | None = "Default",
    blocklists: Iterable[tuple[str, str]] = (),
) -> RawRecord:
    """A guardrail; ``blocklists`` are ``(name, source)`` pairs."""
    arm_id = f"{acct_id}/raiPolicies/{name}"
    props: dict[str, Any] = {"type": "UserManaged", "contentFilters": list(filters)}
    if base is not None:
        props["basePolicyName"] = base
    if mode is not None:
        props["mode"] = mode
    lists = [{"blocklistName": bl, "blocking": True, "source": src} for bl, src in blocklists]
    if lists:
        props["customBlocklists"] = lists
    body = {
        "id": arm_id,
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts/raiPolicies",
        "properties": props,
    }
    return RawRecord(Kind.RAI_POLICY, arm_id, body, acct_id)


def inventory(records: Iterable[RawRecord]) -> Inventory:
    return Inventory.build(SnapshotMeta(captured_at=CAPTURED_AT), list(records))


# ------------------------------------------------------------------------------ a guardrail matrix scenario

SUB_PROD = "aaaaaaaa-0000-4000-8000-000000000001"
SUB_SANDBOX = "aaaaaaaa-0000-4000-8000-000000000002"
ACCT_PROD = account_id(SUB_PROD, "rg-prod", "acct-prod")
ACCT_SANDBOX = account_id(SUB_SANDBOX, "rg-sandbox", "acct-sandbox")
HTML_PROJECT = "<b>Red team</b>"
HARMS = ("Hate", "Sexual", "Violence", "Selfharm")


def matrix_records() -> list[RawRecord]:
    """Eight deployments whose "Hate (prompt)" covers every state, plus an unfiltered subscription.

    ``Contoso Prod``/``acct-prod`` (one project, displayName ``<b>Red team</b>``):

    ========== ============== ====================================================== ========
    deployment guardrail      what it sets                                           has gap
    ========== ============== ====================================================== ========
    gpt-annot  annotating     DefaultV2 + Hate prompt annotate only                  yes
    gpt-bare   bare           no base policy, no mode, only Hate completion ≥ Medium yes
    gpt-default (none)        the account default (DefaultV2, all inherited)         yes
    gpt-high   loose-high     DefaultV2 + Hate prompt ≥ High                         yes
    gpt-legacy legacy         DefaultV2 + Hate prompt ``allowedContentLevel: Low``,  no
                              mode ``Deferred``
    gpt-strict strict         DefaultV2 + Hate prompt/completion ≥ Low, unknown      no
                              "Ungrounded Material" (completion ≥ Low), 2 blocklists
    ========== ============== ====================================================== ========

    ``Contoso Research Sandbox``/``acct-sandbox``: sandbox-1 and sandbox-2 on ``nofilter`` (every harm
    filter ``enabled: false``, no base policy): no content filtering at all.
    """
    harms_off = [
        flt(h, s, enabled=False, blocking=False, threshold="Medium")
        for h in HARMS
        for s in ("Prompt", "Completion")
    ]
    return [
        subscription(SUB_PROD, "Contoso Prod"),
        subscription(SUB_SANDBOX, "Contoso Research Sandbox"),
        account(ACCT_PROD),
        account(ACCT_SANDBOX, location="westus"),
        project(ACCT_PROD, "redteam", HTML_PROJECT),
        rai_policy(
            ACCT_PROD,
            "strict",
            [
                flt("Hate", "Prompt", threshold="Low"),
                flt("Hate", "Completion", threshold="Low"),
                flt("Ungrounded Material", "Completion", threshold="Low"),
            ],
            blocklists=[("bl-prompt", "Prompt"), ("bl-completion", "Completion")],
        ),
        rai_policy(ACCT_PROD, "loose-high", [flt("Hate", "Prompt", threshold="High")]),
        rai_policy(ACCT_PROD, "annotating", [flt("Hate", "Prompt", blocking=False, threshold="Medium")]),
        rai_policy(ACCT_PROD, "bare", [flt("Hate", "Completion", threshold="Medium")], base=None, mode=None),
        rai_policy(
            ACCT_PROD, "legacy", [flt("Hate", "Prompt", threshold="Low", legacy=True)], mode="Deferred"
        ),
        rai_policy(ACCT_SANDBOX, "nofilter", harms_off, base=None),
        deployment(ACCT_PROD, "gpt-strict", "strict"),
        deployment(ACCT_PROD, "gpt-high", "loose-high"),
        deployment(ACCT_PROD, "gpt-annot", "annotating"),
        deployment(ACCT_PROD, "gpt-bare", "bare", model="gpt-4o-mini", version="2024-07-18"),
        deployment(ACCT_PROD, "gpt-legacy", "legacy", model="gpt-35-turbo", version="0613"),
        deployment(ACCT_PROD, "gpt-default"),
        deployment(ACCT_SANDBOX, "sandbox-1", "nofilter"),
        deployment(ACCT_SANDBOX, "sandbox-2", "nofilter"),
    ]
