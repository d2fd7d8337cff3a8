"""What the ARM emulator serves: a snapshot's raw records, indexed per endpoint.

A :class:`Scenario` is a ``SnapshotMeta`` plus the ``RawRecord`` list of one tenant. The emulator serves
each record's ``body`` exactly as it holds it (serialised once with orjson, in record order), so a
capture of the emulator gives back the very records the scenario was built from.

Where a record is served (see ``server.py`` for the paths):

========================  ==========================================================================
kind                      listed under
========================  ==========================================================================
subscription              ``/subscriptions``
resource_group            ``/subscriptions/{sub}/resourcegroups`` (sub from the id)
account                   ``/subscriptions/{sub}/providers/Microsoft.CognitiveServices/accounts``
project, deployment,      ``{acct}/projects``, ``{acct}/deployments``, ``{acct}/raiPolicies``,
rai_policy,               ``{acct}/defenderForAISettings`` (acct = the id's parent)
defender_ai_setting
policy_assignment         ``/subscriptions/{sub}/providers/Microsoft.Authorization/policyAssignments``
                          (sub from the id, else from the record's scope: management-group ones)
policy_set_definition     ``/providers/Microsoft.Authorization/policySetDefinitions/{name}``
policy_state              ``POST .../policyStates/latest/queryResults`` (sub from ``resourceId``)
assessment                ``{scope}/providers/Microsoft.Security/assessments`` (every scope above it)
assessment_metadata       ``/providers/Microsoft.Security/assessmentMetadata`` (and per subscription)
alert                     ``/subscriptions/{sub}/providers/Microsoft.Security/alerts``
pricing                   ``/subscriptions/{sub}/providers/Microsoft.Security/pricings``
========================  ==========================================================================

Every record with an ARM id can also be fetched alone by ``GET {id}``.

Deployments, RAI policies and Defender for AI settings carry an ``etag`` (as ARM's do): a record
without one gets a stable one when the scenario is built, and every write gives a new one.

The records are the source of truth and may change while the emulator serves them (writes, and the
test-side helpers of the emulator): every change happens under :attr:`Scenario.lock`, replaces the
``records`` list and drops the index, which the next read rebuilds (once, O(records)).
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from fcdesk.core.records import Kind, RawRecord, SnapshotMeta, Source

from .roles import covers, role_name

DEFAULT_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
_CS = "/providers/microsoft.cognitiveservices/accounts/"
#: Collections under an account, by the lower-case path segment that lists them.
ACCOUNT_CHILDREN: dict[Kind, str] = {
    Kind.PROJECT: "projects",
    Kind.DEPLOYMENT: "deployments",
    Kind.RAI_POLICY: "raipolicies",
    Kind.DEFENDER_AI_SETTING: "defenderforaisettings",
}
#: Kinds whose bodies carry an ``etag`` (pricings have none).
ETAG_KINDS = frozenset({Kind.DEPLOYMENT, Kind.RAI_POLICY, Kind.DEFENDER_AI_SETTING})
#: A grant: (principal, or None for every caller; scope, "/" for all; built-in role name).
Grant = tuple[str | None, str, str]


def idkey(arm_id: str | None) -> str:
    """Case-insensitive key of an ARM id: lower case, one leading slash, no trailing slash."""
    text = (arm_id or "").strip().strip("/").lower()
    return "/" + text if text else ""


def segment(arm_id: str, name: str) -> str | None:
    """The (lower-case) value after ``/{name}/`` in an ARM id, e.g. ``subscriptions``."""
    parts = arm_id.strip("/").split("/")
    lowered = name.lower()
    for i in range(len(parts) - 1):
        if parts[i].lower() == lowered:
            return parts[i + 1].lower()
    return None


def stable_etag(arm_id: str) -> str:
    """The etag a record is given when it has none: a quoted GUID derived from its id."""
    return f'"{uuid.uuid5(uuid.NAMESPACE_URL, "arm-emulator:etag:" + idkey(arm_id))}"'


def new_etag() -> str:
    """A fresh etag for a write: a quoted random GUID, the shape ARM's resource providers use."""
    return f'"{uuid.uuid4()}"'


def record_key(rec: RawRecord) -> str:
    """The idkey a record is served under (its body's ``id``, else the record id)."""
    body = rec.body
    return idkey(str((body.get("id") if isinstance(body, Mapping) else None) or rec.id))


def parent_key(arm_id: str) -> str:
    parts = idkey(arm_id).split("/")
    return "/".join(parts[:-2]) if len(parts) > 3 else ""


def assignment_scope_key(arm_id: str) -> str:
    key = idkey(arm_id)
    idx = key.find("/providers/microsoft.authorization/policyassignments/")
    return key[:idx] if idx >= 0 else ""


# ------------------------------------------------------------------------------------- the index


@dataclass(slots=True)
class State:
    """One policy-state record, ready for filtering and projection."""

    body: dict[str, Any]
    raw: bytes
    lower: dict[str, Any]  #: lower-case field name → value
    resource: str  #: idkey of resourceId
    sub: str


@dataclass(slots=True)
class Index:
    """Pre-serialised bodies per endpoint. Keys are lower-case (ARM ids are case-insensitive)."""

    subscriptions: list[bytes] = field(default_factory=list)
    known_subs: set[str] = field(default_factory=set)
    rgs: dict[str, list[bytes]] = field(default_factory=dict)  #: sub → RGs
    known_rgs: set[str] = field(default_factory=set)  #: RG id keys
    accounts: dict[str, list[bytes]] = field(default_factory=dict)  #: sub → accounts
    accounts_by_rg: dict[str, list[bytes]] = field(default_factory=dict)  #: RG id key → accounts
    known_accounts: set[str] = field(default_factory=set)  #: account id keys
    children: dict[tuple[str, str], list[bytes]] = field(default_factory=dict)  #: (acct, coll) → items
    assignments: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)  #: sub → (scope, body)
    set_definitions: dict[str, bytes] = field(default_factory=dict)  #: name → body
    states: dict[str, list[State]] = field(default_factory=dict)  #: sub → states
    assessments: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)  #: sub → (id key, body)
    metadata: list[bytes] = field(default_factory=list)
    metadata_by_name: dict[str, bytes] = field(default_factory=dict)
    alerts: dict[str, list[bytes]] = field(default_factory=dict)  #: sub → alerts
    pricings: dict[str, list[bytes]] = field(default_factory=dict)  #: sub → pricings
    by_id: dict[str, bytes] = field(default_factory=dict)  #: id key → body, for GET {id}
    #: Policy-state query results (filtered, projected) by query; dropped with the index.
    query_cache: dict[str, list[bytes]] = field(default_factory=dict)


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body)


def _sub_of(*candidates: str | None) -> str:
    for text in candidates:
        if text:
            sub = segment(text, "subscriptions")
            if sub:
                return sub
    return ""


def build_index(records: Iterable[RawRecord]) -> Index:
    ix = Index()
    for rec in records:
        body = rec.body
        if not isinstance(body, Mapping):
            continue
        kind = rec.kind
        raw = _dumps(body)
        arm_id = str(body.get("id") or rec.id or "") if kind != Kind.POLICY_STATE else ""
        key = idkey(arm_id)
        if key and kind != Kind.POLICY_STATE:
            ix.by_id[key] = raw
        if kind == Kind.SUBSCRIPTION:
            sub = str(body.get("subscriptionId") or "").lower() or _sub_of(arm_id)
            ix.subscriptions.append(raw)
            ix.known_subs.add(sub)
            ix.by_id[f"/subscriptions/{sub}"] = raw
        elif kind == Kind.RESOURCE_GROUP:
            sub = _sub_of(arm_id, rec.scope)
            ix.rgs.setdefault(sub, []).append(raw)
            ix.known_subs.add(sub)
            ix.known_rgs.add(key)
        elif kind == Kind.ACCOUNT:
            sub = _sub_of(arm_id, rec.scope)
            ix.accounts.setdefault(sub, []).append(raw)
            rg = key[: key.find(_CS)] if _CS in key else ""
            ix.accounts_by_rg.setdefault(rg, []).append(raw)
            ix.known_subs.add(sub)
            ix.known_rgs.add(rg)
            ix.known_accounts.add(key)
        elif kind in ACCOUNT_CHILDREN:
            acct = parent_key(key) if key else idkey(rec.scope)
            ix.children.setdefault((acct, ACCOUNT_CHILDREN[kind]), []).append(raw)
            ix.known_accounts.add(acct)
            ix.known_subs.add(_sub_of(acct))
            if _CS in acct:
                ix.known_rgs.add(acct[: acct.find(_CS)])
        elif kind == Kind.POLICY_ASSIGNMENT:
            sub = _sub_of(arm_id, rec.scope)
            props = body.get("properties")
            scope = props.get("scope") if isinstance(props, Mapping) else None
            scope_key = idkey(scope) if isinstance(scope, str) and scope else assignment_scope_key(arm_id)
            ix.assignments.setdefault(sub, []).append((scope_key, raw))
            ix.known_subs.add(sub)
        elif kind == Kind.POLICY_SET_DEFINITION:
            ix.set_definitions[key.rsplit("/", 1)[-1]] = raw
        elif kind == Kind.POLICY_STATE:
            resource = body.get("resourceId")
            resource = resource if isinstance(resource, str) else ""
            sub = str(body.get("subscriptionId") or "").lower() or _sub_of(resource, rec.scope)
            lower = {str(k).lower(): v for k, v in body.items()}
            ix.states.setdefault(sub, []).append(State(dict(body), raw, lower, idkey(resource), sub))
            ix.known_subs.add(sub)
        elif kind == Kind.ASSESSMENT:
            sub = _sub_of(arm_id, rec.scope)
            ix.assessments.setdefault(sub, []).append((key, raw))
            ix.known_subs.add(sub)
        elif kind == Kind.ASSESSMENT_METADATA:
            ix.metadata.append(raw)
            ix.metadata_by_name[key.rsplit("/", 1)[-1]] = raw
        elif kind == Kind.ALERT:
            sub = _sub_of(arm_id, rec.scope)
            ix.alerts.setdefault(sub, []).append(raw)
            ix.known_subs.add(sub)
        elif kind == Kind.PRICING:
            sub = _sub_of(arm_id, rec.scope)
            ix.pricings.setdefault(sub, []).append(raw)
            ix.known_subs.add(sub)
        # kinds written by a newer fcdesk: reachable by GET {id} only
    ix.known_subs.discard("")
    return ix


# ----------------------------------------------------------------------------------- scenarios


class Scenario:
    """One tenant to serve: the header and raw records of a snapshot (in order, as given)."""

    def __init__(
        self, meta: SnapshotMeta, records: Iterable[RawRecord], *, accept_any_token: bool = True
    ) -> None:
        self.meta = meta
        #: Held for every change of ``records`` (re-entrant: the emulator holds it across a write).
        self.lock = threading.RLock()
        self.records: list[RawRecord] = [_with_etag(r) for r in records]
        #: Accept any bearer token (e.g. from ``az account get-access-token``) besides minted ones.
        self.accept_any_token = accept_any_token
        #: Role grants (see :mod:`.roles`); by default every caller is Owner of everything.
        self.grants: list[Grant] = [(None, "/", "Owner")]
        self._index: Index | None = None

    # -------------------------------------------------------------------- constructors

    @classmethod
    def from_records(
        cls, meta: SnapshotMeta, records: Iterable[RawRecord], *, accept_any_token: bool = True
    ) -> Scenario:
        return cls(meta, records, accept_any_token=accept_any_token)

    @classmethod
    def demo(cls, scale: int = 1, seed: int = 0, *, accept_any_token: bool = True) -> Scenario:
        """The demo tenant of ``fcdesk.core.demo.generate``."""
        from fcdesk.core.demo import generate

        meta, records = generate(scale, seed)
        return cls(meta, records, accept_any_token=accept_any_token)

    @classmethod
    def from_snapshot(cls, path: os.PathLike[str] | str, *, accept_any_token: bool = True) -> Scenario:
        from fcdesk.store.snapshot import read_snapshot

        snap = read_snapshot(path)
        return cls(snap.meta, snap.records, accept_any_token=accept_any_token)

    @classmethod
    def synthetic(
        cls,
        subscriptions: int = 20,
        accounts_per_sub: int = 10,
        deployments_per_account: int = 10,
        *,
        seed: int = 0,
        accept_any_token: bool = True,
    ) -> Scenario:
        """A large regular tenant for benchmarks (see :func:`synthetic_records`)."""
        meta, records = synthetic_records(subscriptions, accounts_per_sub, deployments_per_account, seed=seed)
        return cls(meta, records, accept_any_token=accept_any_token)

    @classmethod
    def from_examples(cls, directory: os.PathLike[str] | str, *, accept_any_token: bool = True) -> Scenario:
        """Every published response example (``shared/azure-examples``) of an endpoint the emulator
        serves, bodies unchanged. Examples of the same resource are all kept, so a list may name
        one id twice (``GetProject`` and ``ListProjects`` describe the same project)."""
        meta, records = example_records(directory)
        return cls(meta, records, accept_any_token=accept_any_token)

    # -------------------------------------------------------------------- queries

    @property
    def index(self) -> Index:
        ix = self._index
        if ix is None:
            with self.lock:
                ix = self._index
                if ix is None:
                    ix = self._index = build_index(self.records)
        return ix

    @property
    def tenant_id(self) -> str:
        return self.meta.tenant_id or DEFAULT_TENANT_ID

    def tenant_bodies(self) -> list[dict[str, Any]]:
        """``GET /tenants`` items: the snapshot's tenant first, then any other tenant a subscription
        names (shape of api-version 2022-12-01)."""
        ids = [self.tenant_id]
        for rec in self.of_kind(Kind.SUBSCRIPTION):
            tid = str(rec.body.get("tenantId") or "")
            if tid and tid.lower() not in (t.lower() for t in ids):
                ids.append(tid)
        out = []
        for tid in ids:
            name = self.meta.tenant_name if tid == self.tenant_id and self.meta.tenant_name else tid
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:27] or "tenant"
            domain = f"{slug}.onmicrosoft.com"
            out.append(
                {
                    "id": f"/tenants/{tid}",
                    "tenantId": tid,
                    "countryCode": "US",
                    "displayName": name,
                    "domains": [domain],
                    "tenantCategory": "Home",
                    "defaultDomain": domain,
                    "tenantType": "AAD",
                }
            )
        return out

    def of_kind(self, kind: Kind | str) -> list[RawRecord]:
        return [r for r in self.records if r.kind == kind]

    def subscription_ids(self) -> list[str]:
        out = []
        for rec in self.of_kind(Kind.SUBSCRIPTION):
            out.append(str(rec.body.get("subscriptionId") or segment(rec.id, "subscriptions") or ""))
        return out

    def __repr__(self) -> str:
        return f"Scenario({self.meta.tenant_name or self.tenant_id!r}, {len(self.records)} records)"

    # -------------------------------------------------------------------- roles

    def grant(self, role: str, scope: str = "/", principal: str | None = None) -> Scenario:
        """Give ``principal`` (None: every caller) the built-in ``role`` at ``scope`` and below."""
        with self.lock:
            self.grants = [*self.grants, (principal, scope, role_name(role))]
        return self

    def only(self, role: str, scope: str = "/", principal: str | None = None) -> Scenario:
        """Replace every grant by this one (e.g. ``only("Reader")``: nobody may write)."""
        with self.lock:
            self.grants = [(principal, scope, role_name(role))]
        return self

    def roles_of(self, principal: str | None, target: str) -> list[str]:
        """The roles ``principal`` holds at ``target`` (an ARM id or scope), one per grant, in grant
        order. ``principal`` None (a token the emulator did not mint) gets only the grants to everyone."""
        key = idkey(target)
        who = principal.lower() if principal is not None else None
        return [
            role
            for p, scope, role in self.grants
            if (p is None or (who is not None and p.lower() == who)) and covers(idkey(scope), key)
        ]

    # -------------------------------------------------------------------- changes

    def find(self, arm_id: str) -> RawRecord | None:
        """The record served as ``GET {arm_id}`` (case-insensitive; policy states have no id)."""
        key = idkey(arm_id)
        for rec in self.records:
            if rec.kind != Kind.POLICY_STATE and record_key(rec) == key:
                return rec
        return None

    def upsert(self, record: RawRecord) -> bool:
        """Store ``record``, replacing the record(s) with the same id in place (True) or appending it
        (False). Examples may hold one id twice: all copies are replaced by the one record."""
        key = record_key(record)
        with self.lock:
            out: list[RawRecord] = []
            placed = False
            for rec in self.records:
                if rec.kind != Kind.POLICY_STATE and record_key(rec) == key:
                    if not placed:
                        out.append(record)
                        placed = True
                    continue
                out.append(rec)
            if not placed:
                out.append(record)
            self._replace(out)
        return placed

    def remove(self, arm_id: str) -> RawRecord | None:
        """Drop the record(s) with this id; the (first) one removed, or None."""
        key = idkey(arm_id)
        with self.lock:
            found = self.find(arm_id)
            if found is not None:
                self._replace(
                    [r for r in self.records if r.kind == Kind.POLICY_STATE or record_key(r) != key]
                )
        return found

    def rewrite(self, keep: Callable[[RawRecord], bool], add: Iterable[RawRecord] = ()) -> None:
        """Keep the records ``keep`` accepts, then append ``add`` (e.g. replace policy states)."""
        with self.lock:
            self._replace([*(r for r in self.records if keep(r)), *add])

    def _replace(self, records: list[RawRecord]) -> None:
        self.records = records
        self._index = None


def _with_etag(rec: RawRecord) -> RawRecord:
    if rec.kind in ETAG_KINDS and isinstance(rec.body, Mapping) and "etag" not in rec.body:
        return RawRecord(rec.kind, rec.id, {**rec.body, "etag": stable_etag(record_key(rec))}, rec.scope)
    return rec


# --------------------------------------------------------------------------- published examples

#: example file → (kind, where the records are: "value" list or the body itself, scope rule)
_EXAMPLES: tuple[tuple[str, Kind, str], ...] = (
    ("resources/GetSubscription.json", Kind.SUBSCRIPTION, "body"),
    # No GET example exists for resource groups: the create response is what GET returns.
    ("resources/CreateResourceGroup.json", Kind.RESOURCE_GROUP, "body"),
    ("cognitiveservices/ListAccountsBySubscription.json", Kind.ACCOUNT, "value"),
    ("cognitiveservices/GetAccount.json", Kind.ACCOUNT, "body"),
    ("cognitiveservices/ListProjects.json", Kind.PROJECT, "value"),
    ("cognitiveservices/GetProject.json", Kind.PROJECT, "body"),
    ("cognitiveservices/ListDeployments.json", Kind.DEPLOYMENT, "value"),
    ("cognitiveservices/GetDeployment.json", Kind.DEPLOYMENT, "body"),
    ("cognitiveservices/ListRaiPolicies.json", Kind.RAI_POLICY, "value"),
    ("cognitiveservices/GetRaiPolicy.json", Kind.RAI_POLICY, "body"),
    ("cognitiveservices/ListDefenderForAISetting.json", Kind.DEFENDER_AI_SETTING, "value"),
    ("cognitiveservices/GetDefenderForAISetting.json", Kind.DEFENDER_AI_SETTING, "body"),
    # No GET example exists for assignments: the create response is what GET returns.
    ("policy/createPolicyAssignment.json", Kind.POLICY_ASSIGNMENT, "body"),
    ("policy-builtins/policySet_AllowDeploymentControl_Audit.json", Kind.POLICY_SET_DEFINITION, "raw"),
    (
        "policyinsights/PolicyStates_QueryResourceGroupLevelPolicyAssignmentScope.json",
        Kind.POLICY_STATE,
        "value",
    ),
    ("policyinsights/PolicyStates_QueryResourceScopeExpandComponents.json", Kind.POLICY_STATE, "value"),
    ("security/ListAssessments_example.json", Kind.ASSESSMENT, "value"),
    ("security/GetAssessmentWithExpand_example.json", Kind.ASSESSMENT, "body"),
    ("security/GetAssessmentsMetadata_example.json", Kind.ASSESSMENT_METADATA, "body"),
    ("security/GetAlertsSubscription_example.json", Kind.ALERT, "value"),
    ("security/GetPricingByNameCloudPosture_example.json", Kind.PRICING, "body"),
)

#: Example files deliberately not served, and why (the test checks that every file is either here or above).
EXAMPLES_NOT_SERVED: dict[str, str] = {
    "cognitiveservices/DeleteSubscriptionRaiPolicy.json": "DELETE, no body",
    "cognitiveservices/GetSubscriptionRaiPolicy.json": "subscription-level RAI policies are not emulated",
    "cognitiveservices/ListRaiContentFilters.json": "location-level content filter catalogue is not emulated",
    "cognitiveservices/PutDeployment.json": "a request (PUT, accepted by writes.py); GetDeployment is served",
    "cognitiveservices/PutRaiPolicy.json": "a request (PUT, accepted by writes.py); GetRaiPolicy is served",
    "cognitiveservices/UpdateDefenderForAISetting.json": "a request (PATCH, accepted by writes.py)",
    "cognitiveservices/UpdateDeployment.json": "a request (PATCH, accepted by writes.py)",
    "policy/createOrUpdatePolicyDefinition.json": "policy definitions are not emulated",
    "policy/createOrUpdatePolicyExemptionWithResourceSelectors.json": "exemptions are not emulated",
    "policyinsights/PolicyStates_SummarizeSubscriptionLevelPolicyAssignmentScope.json": (
        "summaries are computed from the states, not stored"
    ),
    "policyinsights/PolicyStates_TriggerResourceGroupEvaluation.json": "a request (LRO, see writes.py)",
    "policyinsights/PolicyStates_TriggerSubscriptionEvaluation.json": "a request (LRO, see writes.py)",
    "resourcegraph/ResourcesBasicQuery.json": "Resource Graph is not emulated",
    "resourcegraph/ResourcesNextPageQuery.json": "Resource Graph is not emulated",
    "security/PutPricingByName_example.json": (
        "a request (PUT, accepted by writes.py); GetPricingByName is served"
    ),
}


def examples_served() -> list[str]:
    return [name for name, _, _ in _EXAMPLES]


def example_records(directory: os.PathLike[str] | str) -> tuple[SnapshotMeta, list[RawRecord]]:
    from fcdesk.core.normalize import policy_state_key

    root = Path(directory)
    records: list[RawRecord] = []
    tenant = ""
    for name, kind, where in _EXAMPLES:
        data = json.loads((root / name).read_text(encoding="utf-8"))
        if where == "raw":
            bodies = [data]
            params: dict[str, Any] = {}
        else:
            params = data.get("parameters") or {}
            status = next(s for s in data["responses"] if s.startswith("2"))
            body = data["responses"][status]["body"]
            bodies = list(body["value"]) if where == "value" else [body]
        for body in bodies:
            if kind == Kind.POLICY_STATE:
                sub = params.get("subscriptionId") or _sub_of(
                    body.get("resourceId"), params.get("resourceId")
                )
                records.append(RawRecord(kind, policy_state_key(body), body, f"/subscriptions/{sub}"))
                continue
            arm_id = str(body.get("id", ""))
            if kind == Kind.SUBSCRIPTION:
                tenant = tenant or str(body.get("tenantId", ""))
            if kind in ACCOUNT_CHILDREN:
                scope = "/" + "/".join(arm_id.strip("/").split("/")[:-2])
            elif kind in (Kind.SUBSCRIPTION, Kind.POLICY_SET_DEFINITION, Kind.ASSESSMENT_METADATA):
                scope = ""
            else:
                scope = f"/subscriptions/{_sub_of(arm_id)}"
            records.append(RawRecord(kind, arm_id, body, scope))
    meta = SnapshotMeta(
        captured_at=datetime(2026, 1, 1, tzinfo=UTC),
        source=Source.IMPORT,
        tenant_id=tenant,
        tenant_name="Published Azure REST examples",
        cloud="custom",
        label="azure-examples",
    )
    return meta, records


# ----------------------------------------------------------------------------------- synthetic

_MODELS = (
    ("gpt-4o", "2024-11-20", "OpenAI", "GlobalStandard"),
    ("gpt-4o-mini", "2024-07-18", "OpenAI", "GlobalStandard"),
    ("gpt-4.1", "2025-04-14", "OpenAI", "DataZoneStandard"),
    ("o4-mini", "2025-04-16", "OpenAI", "GlobalStandard"),
    ("text-embedding-3-large", "1", "OpenAI", "Standard"),
    ("gpt-5", "2025-08-07", "OpenAI", "GlobalStandard"),
    ("DeepSeek-R1", "1", "DeepSeek", "GlobalStandard"),
    ("Phi-4", "7", "Microsoft", "GlobalStandard"),
    ("Llama-3.3-70B-Instruct", "5", "Meta", "GlobalStandard"),
)
_LOCATIONS = ("eastus2", "swedencentral", "westus3", "francecentral")
_HARMS = ("Hate", "Sexual", "Violence", "Selfharm")
SYNTHETIC_CAPTURED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
_JB_BLOCKED = "A Jailbreak attempt on your Azure AI model deployment was blocked"
SYNTHETIC_TENANT_ID = "0d3c1a52-7e4b-4f0e-9a16-5c2b8e7f4d91"


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _filters(enabled: bool, blocking: bool, sev: str, shields: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for harm in _HARMS:
        for source in ("Prompt", "Completion"):
            out.append(
                {
                    "name": harm,
                    "blocking": blocking,
                    "enabled": enabled,
                    "severityThreshold": sev,
                    "source": source,
                }
            )
    for name, source in (
        ("Jailbreak", "Prompt"),
        ("Indirect Attack", "Prompt"),
        ("Protected Material Text", "Completion"),
        ("Protected Material Code", "Completion"),
    ):
        out.append({"name": name, "blocking": shields and blocking, "enabled": shields, "source": source})
    return out


#: (name, mode, enabled, blocking, severity, shields) of the guardrails every synthetic account defines.
_SYN_RAILS = (
    ("Synthetic-Strict", "Default", True, True, "Low", True),
    ("Synthetic-Annotate", "Asynchronous_filter", True, False, "Medium", False),
)


def synthetic_records(
    subscriptions: int = 20, accounts_per_sub: int = 10, deployments_per_account: int = 10, *, seed: int = 0
) -> tuple[SnapshotMeta, list[RawRecord]]:
    """A regular tenant: per subscription two resource groups, ``accounts_per_sub`` Foundry
    (AIServices) accounts each with two projects, two guardrails, a Defender for AI setting and
    ``deployments_per_account`` deployments; one guardrail policy (the built-in initiative assigned
    at the subscription) with its policy states computed by fcdesk's own evaluation; two Defender
    recommendations per account, one alert and the AI pricing per subscription. Deterministic."""
    from fcdesk.core.demo import generate
    from fcdesk.core.guardrails import COMPLETION, PROMPT, Severity
    from fcdesk.core.inventory import Inventory
    from fcdesk.core.normalize import policy_state_key
    from fcdesk.core.policy import EFFECT_PARAM, INITIATIVE_ID, minimum, parameters_for

    if min(subscriptions, accounts_per_sub, deployments_per_account) < 0 or subscriptions < 1:
        raise ValueError("need at least one subscription and no negative counts")
    rng = random.Random(seed)
    _, demo = generate(1, 0)
    initiative = next(r for r in demo if r.kind == Kind.POLICY_SET_DEFINITION)
    metadata = [r for r in demo if r.kind == Kind.ASSESSMENT_METADATA][:3]
    ref_defs = {
        d["policyDefinitionReferenceId"]: d["policyDefinitionId"]
        for d in initiative.body["properties"]["policyDefinitions"]
    }
    records: list[RawRecord] = [initiative, *metadata]
    states: list[RawRecord] = []
    sub_ids: list[str] = []
    requirements = [minimum((h, s), Severity.MEDIUM) for h in _HARMS for s in (PROMPT, COMPLETION)]
    requirements.append(minimum(("Jailbreak", PROMPT)))
    scan = SYNTHETIC_CAPTURED_AT - timedelta(hours=3)
    for s in range(subscriptions):
        start = len(records)
        sub_id = _guid(rng)
        sub_ids.append(sub_id)
        sub_scope = f"/subscriptions/{sub_id}"
        records.append(
            RawRecord(
                Kind.SUBSCRIPTION,
                sub_scope,
                {
                    "id": sub_scope,
                    "subscriptionId": sub_id,
                    "tenantId": SYNTHETIC_TENANT_ID,
                    "displayName": f"Synthetic AI {s + 1:03d}",
                    "state": "Enabled",
                    "subscriptionPolicies": {
                        "locationPlacementId": "Public_2014-09-01",
                        "quotaId": "EnterpriseAgreement_2014-09-01",
                        "spendingLimit": "Off",
                    },
                    "authorizationSource": "RoleBased",
                    "managedByTenants": [],
                    "tags": {"environment": "synthetic"},
                },
                "",
            )
        )
        rg_ids = []
        for r in range(2):
            rg_name = f"rg-ai-{s + 1:03d}-{'ab'[r]}"
            rg_id = f"{sub_scope}/resourceGroups/{rg_name}"
            rg_ids.append(rg_id)
            records.append(
                RawRecord(
                    Kind.RESOURCE_GROUP,
                    rg_id,
                    {
                        "id": rg_id,
                        "name": rg_name,
                        "type": "Microsoft.Resources/resourceGroups",
                        "location": _LOCATIONS[(s + r) % len(_LOCATIONS)],
                        "tags": {"environment": "synthetic"},
                        "properties": {"provisioningState": "Succeeded"},
                    },
                    sub_scope,
                )
            )
        first_dep = ""
        for a in range(accounts_per_sub):
            rg_id = rg_ids[a % 2]
            name = f"syn{s + 1:03d}-foundry-{a + 1:02d}"
            acct_id = f"{rg_id}/providers/Microsoft.CognitiveServices/accounts/{name}"
            location = _LOCATIONS[(s + a) % len(_LOCATIONS)]
            projects = [f"project-{p + 1}" for p in range(2)]
            records.append(
                RawRecord(
                    Kind.ACCOUNT,
                    acct_id,
                    {
                        "id": acct_id,
                        "name": name,
                        "type": "Microsoft.CognitiveServices/accounts",
                        "location": location,
                        "sku": {"name": "S0"},
                        "kind": "AIServices",
                        "identity": {
                            "type": "SystemAssigned",
                            "principalId": _guid(rng),
                            "tenantId": SYNTHETIC_TENANT_ID,
                        },
                        "tags": {"workload": "genai"},
                        "properties": {
                            "endpoint": f"https://{name}.cognitiveservices.azure.com/",
                            "endpoints": {
                                "AI Foundry API": f"https://{name}.services.ai.azure.com/",
                                "OpenAI Language Model Instance API": f"https://{name}.openai.azure.com/",
                            },
                            "provisioningState": "Succeeded",
                            "customSubDomainName": name,
                            "publicNetworkAccess": "Enabled" if a % 3 == 0 else "Disabled",
                            "disableLocalAuth": a % 2 == 0,
                            "allowProjectManagement": True,
                            "defaultProject": projects[0],
                            "associatedProjects": projects,
                            "dateCreated": "2025-03-11T16:04:52.1234567Z",
                        },
                    },
                    sub_scope,
                )
            )
            for p, project in enumerate(projects):
                records.append(
                    RawRecord(
                        Kind.PROJECT,
                        f"{acct_id}/projects/{project}",
                        {
                            "id": f"{acct_id}/projects/{project}",
                            "name": project,
                            "type": "Microsoft.CognitiveServices/accounts/projects",
                            "location": location,
                            "identity": {
                                "type": "SystemAssigned",
                                "principalId": _guid(rng),
                                "tenantId": SYNTHETIC_TENANT_ID,
                            },
                            "properties": {
                                "provisioningState": "Succeeded",
                                "displayName": f"Project {p + 1} of {name}",
                                "description": "Synthetic project.",
                                "isDefault": p == 0,
                            },
                        },
                        acct_id,
                    )
                )
            for rail, mode, enabled, blocking, sev, shields in _SYN_RAILS:
                rid = f"{acct_id}/raiPolicies/{rail}"
                records.append(
                    RawRecord(
                        Kind.RAI_POLICY,
                        rid,
                        {
                            "name": rail,
                            "id": rid,
                            "type": "Microsoft.CognitiveServices/accounts/raiPolicies",
                            "properties": {
                                "type": "UserManaged",
                                "basePolicyName": "Microsoft.DefaultV2",
                                "mode": mode,
                                "contentFilters": _filters(enabled, blocking, sev, shields),
                                "customBlocklists": [],
                            },
                        },
                        acct_id,
                    )
                )
            records.append(
                RawRecord(
                    Kind.DEFENDER_AI_SETTING,
                    f"{acct_id}/defenderForAISettings/Default",
                    {
                        "name": "Default",
                        "id": f"{acct_id}/defenderForAISettings/Default",
                        "type": "Microsoft.CognitiveServices/accounts/defenderForAISettings",
                        "properties": {"state": "Enabled" if (s + a) % 4 else "Disabled"},
                    },
                    acct_id,
                )
            )
            for d in range(deployments_per_account):
                model, version, fmt, sku = _MODELS[(a + d) % len(_MODELS)]
                dep_name = f"{model.lower()}-{d + 1:03d}"
                dep_id = f"{acct_id}/deployments/{dep_name}"
                first_dep = first_dep or dep_id
                rai = (_SYN_RAILS[0][0], _SYN_RAILS[1][0], "Microsoft.DefaultV2", None)[rng.randrange(4)]
                props: dict[str, Any] = {
                    "model": {"format": fmt, "name": model, "version": version},
                    "versionUpgradeOption": "OnceNewDefaultVersionAvailable",
                    "provisioningState": "Succeeded",
                }
                if rai is not None:
                    props["raiPolicyName"] = rai
                capacity = rng.choice((1, 10, 50, 100, 250))
                props["currentCapacity"] = capacity
                records.append(
                    RawRecord(
                        Kind.DEPLOYMENT,
                        dep_id,
                        {
                            "id": dep_id,
                            "name": dep_name,
                            "type": "Microsoft.CognitiveServices/accounts/deployments",
                            "sku": {"name": sku, "capacity": capacity},
                            "properties": props,
                        },
                        acct_id,
                    )
                )
            for key, healthy in (
                (metadata[0].body["name"], a % 3 != 0),
                (metadata[1].body["name"], a % 2 == 0),
            ):
                aid = f"{acct_id}/providers/Microsoft.Security/assessments/{key}"
                records.append(
                    RawRecord(
                        Kind.ASSESSMENT,
                        aid,
                        {
                            "id": aid,
                            "name": key,
                            "type": "Microsoft.Security/assessments",
                            "properties": {
                                "resourceDetails": {"source": "Azure", "id": acct_id},
                                "displayName": metadata[0 if key == metadata[0].body["name"] else 1].body[
                                    "properties"
                                ]["displayName"],
                                "status": {"code": "Healthy" if healthy else "Unhealthy"},
                            },
                        },
                        sub_scope,
                    )
                )
        pa_name = f"gr-synthetic-{s + 1:03d}"
        pa_id = f"{sub_scope}/providers/Microsoft.Authorization/policyAssignments/{pa_name}"
        params = parameters_for({r.key: r for r in requirements}, None)
        params[EFFECT_PARAM] = {"value": "Audit"}
        records.append(
            RawRecord(
                Kind.POLICY_ASSIGNMENT,
                pa_id,
                {
                    "properties": {
                        "displayName": f"Synthetic guardrail {s + 1:03d}",
                        "description": "Harm filters block at Medium or stricter; jailbreak shield blocks.",
                        "metadata": {"assignedBy": "Synthetic"},
                        "policyDefinitionId": INITIATIVE_ID,
                        "notScopes": [],
                        "parameters": params,
                        "enforcementMode": "Default",
                        "scope": sub_scope,
                    },
                    "id": pa_id,
                    "type": "Microsoft.Authorization/policyAssignments",
                    "name": pa_name,
                },
                sub_scope,
            )
        )
        if first_dep:
            acct_id = first_dep.rsplit("/deployments/", 1)[0]
            alert_name = f"2516{rng.randrange(10**15):015d}_{_guid(rng).upper()}"
            alert_id = f"{rg_ids[0]}/providers/Microsoft.Security/locations/centralus/alerts/{alert_name}"
            start_at = SYNTHETIC_CAPTURED_AT - timedelta(hours=2 + s % 5)
            records.append(
                RawRecord(
                    Kind.ALERT,
                    alert_id,
                    {
                        "id": alert_id,
                        "name": alert_name,
                        "type": "Microsoft.Security/Locations/alerts",
                        "properties": {
                            "version": "2022-01-01",
                            "alertType": "AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt",
                            "systemAlertId": alert_name,
                            "productComponentName": "AI",
                            "alertDisplayName": _JB_BLOCKED,
                            "description": "A jailbreak attempt was detected and blocked by Prompt Shields.",
                            "severity": "Medium",
                            "intent": "PrivilegeEscalation",
                            "startTimeUtc": _ts(start_at),
                            "endTimeUtc": _ts(start_at + timedelta(minutes=4)),
                            "resourceIdentifiers": [{"azureResourceId": acct_id, "type": "AzureResource"}],
                            "remediationSteps": ["Review the prompts in the alert's evidence."],
                            "vendorName": "Microsoft",
                            "status": "Active",
                            "timeGeneratedUtc": _ts(start_at + timedelta(minutes=1)),
                            "productName": "Microsoft Defender for Cloud",
                            "compromisedEntity": acct_id.rsplit("/", 1)[-1],
                            "extendedProperties": {"Deployment name": first_dep.rsplit("/", 1)[-1]},
                            "isIncident": False,
                        },
                    },
                    sub_scope,
                )
            )
        standard = s % 2 == 0
        pricing_props: dict[str, Any] = {
            "pricingTier": "Standard" if standard else "Free",
            "freeTrialRemainingTime": "PT0S",
        }
        if standard:
            pricing_props["enablementTime"] = "2026-06-03T10:15:27.5523316Z"
            pricing_props["extensions"] = [
                {"name": "AIPromptEvidence", "isEnabled": "True"},
                {"name": "AIPromptSharingWithPurview", "isEnabled": "False"},
            ]
        records.append(
            RawRecord(
                Kind.PRICING,
                f"{sub_scope}/providers/Microsoft.Security/pricings/AI",
                {
                    "id": f"{sub_scope}/providers/Microsoft.Security/pricings/AI",
                    "name": "AI",
                    "type": "Microsoft.Security/pricings",
                    "properties": pricing_props,
                },
                sub_scope,
            )
        )
        # Azure's verdicts, the way the initiative judges (one summary + one per failing reference).
        inv = Inventory.build(SnapshotMeta(captured_at=SYNTHETIC_CAPTURED_AT), records[start:])
        if inv.errors:
            raise AssertionError(f"synthetic records do not normalise: {inv.errors[:3]}")
        for dep in inv.deployments:
            for pol in inv.governing(dep):
                failed = list(dict.fromkeys(r.reference_id for r in inv.local(dep, pol).failures))
                when = _ts(scan + timedelta(seconds=rng.randrange(600)))
                common = {
                    "resourceId": dep.id,
                    "policyAssignmentId": pol.id,
                    "policySetDefinitionId": INITIATIVE_ID,
                }
                bodies = [
                    {
                        **common,
                        "policyDefinitionReferenceId": "",
                        "policyDefinitionId": "",
                        "complianceState": "NonCompliant" if failed else "Compliant",
                        "timestamp": when,
                    }
                ]
                bodies += [
                    {
                        **common,
                        "policyDefinitionReferenceId": ref,
                        "policyDefinitionId": ref_defs.get(ref, ""),
                        "complianceState": "NonCompliant",
                        "timestamp": when,
                    }
                    for ref in failed
                ]
                for body in bodies:
                    states.append(
                        RawRecord(
                            Kind.POLICY_STATE,
                            policy_state_key(body),
                            body,
                            f"/subscriptions/{dep.subscription_id}",
                        )
                    )
    records.extend(states)
    meta = SnapshotMeta(
        captured_at=SYNTHETIC_CAPTURED_AT,
        source=Source.DEMO,
        tenant_id=SYNTHETIC_TENANT_ID,
        tenant_name="Synthetic tenant",
        cloud="public",
        scopes=sub_ids,
        label=f"synthetic {subscriptions}x{accounts_per_sub}x{deployments_per_account}",
    )
    return meta, records
