"""The tenant as fcdesk understands it: built from raw records, with every derived view.

Performance notes (100,000 deployments must open in seconds): effective guardrails are resolved
once per (account, raiPolicyName) and shared; local evaluations are cached per (guardrail, policy);
governing policies are found through a scope index, not by scanning every policy.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fcdesk.core import normalize as nz
from fcdesk.core.gcpause import paused_gc
from fcdesk.core.guardrails import (
    ACCOUNT_DEFAULT,
    SYSTEM_GUARDRAILS,
    EffectiveGuardrail,
    Guardrail,
    GuardrailOrigin,
    gap_columns,
    resolve_effective,
    system_guardrail,
)
from fcdesk.core.model import (
    Account,
    Alert,
    ComplianceRecord,
    DefenderForAISetting,
    DefenderPlan,
    Deployment,
    Project,
    Recommendation,
    ResourceGroup,
    Subscription,
    idkey,
)
from fcdesk.core.policy import Evaluation, GuardrailPolicy, evaluate
from fcdesk.core.records import Kind, RawRecord, ScopeError, SnapshotMeta
from fcdesk.core.text import format_utc
from fcdesk.core.verdicts import AzureVerdict, VerdictFolder, VerdictRow, latest_by_assignment


def _derived(fn: Any) -> Any:
    """A per-scope derivation: computed once per (method, scope) with the cyclic GC paused.

    An inventory never changes after it is built, so results are memoised; :meth:`Inventory.prepare`
    computes them on a worker thread so that showing a new inventory costs the GUI thread little.
    Callers must not mutate the returned lists.
    """
    name = fn.__name__

    def wrapper(self: Inventory, scope: Scope | None = None) -> Any:
        scope = ALL if scope is None else scope
        key = (name, scope)
        cached = self._memo.get(key)
        if cached is None:
            with paused_gc():
                cached = fn(self, scope)
            if len(self._memo) > 64:  # many scopes visited: keep memory bounded
                self._memo.clear()
            self._memo[key] = cached
        return cached

    wrapper.__doc__, wrapper.__name__ = fn.__doc__, name
    return wrapper


class PolicyStatus(enum.StrEnum):
    COMPLIANT = "Compliant"
    VIOLATIONS = "Violations detected"
    PENDING = "Pending evaluation"
    DISABLED = "Disabled"


class AssetStatus(enum.StrEnum):
    COMPLIANT = "Compliant"
    VIOLATION = "Violation detected"
    PENDING = "Pending evaluation"


@dataclass(slots=True)
class AssetRow:
    """One (deployment, governing policy) pair: a row of the Assets view."""

    deployment: Deployment
    policy: GuardrailPolicy
    effective: EffectiveGuardrail
    local: Evaluation
    azure: AzureVerdict | None

    @property
    def status(self) -> AssetStatus:
        if self.azure is None:
            return AssetStatus.PENDING
        return AssetStatus.COMPLIANT if self.azure.compliant else AssetStatus.VIOLATION

    @property
    def violating(self) -> bool:
        """By Azure's verdict where there is one, else by the local evaluation."""
        return (not self.azure.compliant) if self.azure is not None else not self.local.passed

    @property
    def disagrees(self) -> bool:
        return self.azure is not None and self.azure.compliant != self.local.passed


@dataclass(slots=True)
class PolicyRow:
    policy: GuardrailPolicy
    status: PolicyStatus
    assets: list[AssetRow]
    excepted: list[Deployment]
    as_of: datetime | None
    pending_since: datetime | None = None  #: written by fcdesk at this time; Azure has not re-evaluated

    @property
    def status_text(self) -> str:
        if self.status is PolicyStatus.PENDING and self.pending_since is not None:
            return f"{PolicyStatus.PENDING} (since {format_utc(self.pending_since)})"
        return str(self.status)

    @property
    def violating(self) -> int:
        return sum(1 for a in self.assets if a.violating)

    @property
    def total(self) -> int:
        return len(self.assets)

    @property
    def disagreements(self) -> int:
        return sum(1 for a in self.assets if a.disagrees)


@dataclass(slots=True)
class MatrixRow:
    deployment: Deployment
    effective: EffectiveGuardrail
    subscription_name: str
    projects: str
    gaps: tuple[int, ...]  #: CATALOGUE indexes weaker than Microsoft's default

    @property
    def has_gap(self) -> bool:
        return bool(self.gaps) or self.effective.origin in (GuardrailOrigin.ACCOUNT_DEFAULT, GuardrailOrigin.MISSING)


@dataclass(frozen=True, slots=True)
class Scope:
    """What the subscription and project filters select. ``None`` means all."""

    subscriptions: frozenset[str] | None = None  #: subscription ids (lower case)
    project_id: str | None = None  #: a project ARM id; "All projects" is None

    def __post_init__(self) -> None:
        if self.subscriptions is not None:
            object.__setattr__(self, "subscriptions", frozenset(s.lower() for s in self.subscriptions))


ALL = Scope()


@dataclass(slots=True)
class Inventory:
    meta: SnapshotMeta
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    resource_groups: dict[str, ResourceGroup] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    guardrails: dict[str, Guardrail] = field(default_factory=dict)  #: account RAI policies by id key
    policies: list[GuardrailPolicy] = field(default_factory=list)
    other_assignments: int = 0
    state_count: int = 0  #: policy-state records behind the verdicts (folded as they stream in)
    recommendations: list[Recommendation] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    plans: dict[str, DefenderPlan] = field(default_factory=dict)  #: by subscription id (lower)
    ai_settings: dict[str, DefenderForAISetting] = field(default_factory=dict)  #: by account id key
    errors: list[ScopeError] = field(default_factory=list)
    record_count: int = 0
    #: Assignments written by fcdesk whose new verdicts Azure has not delivered: key → written at.
    pending: dict[str, datetime] = field(default_factory=dict)

    # derived, built by _index()
    _projects_by_account: dict[str, list[Project]] = field(default_factory=dict, repr=False)
    _rails_by_account: dict[str, dict[str, Guardrail]] = field(default_factory=dict, repr=False)
    _eff_cache: dict[tuple[str, str], EffectiveGuardrail] = field(default_factory=dict, repr=False)
    _eval_cache: dict[tuple[object, object], Evaluation] = field(default_factory=dict, repr=False)
    _eval_by_name: dict[tuple[str, str], Evaluation] = field(default_factory=dict, repr=False)
    _policies_by_scope: dict[tuple[str, str], list[GuardrailPolicy]] = field(default_factory=dict, repr=False)
    _verdicts: dict[tuple[str, str], AzureVerdict] = field(default_factory=dict, repr=False)
    _evaluated_assignments: dict[str, datetime | None] = field(default_factory=dict, repr=False)
    _states: VerdictFolder = field(default_factory=VerdictFolder, repr=False)
    _stored_verdicts: list[VerdictRow] = field(default_factory=list, repr=False)
    _memo: dict[tuple[str, Scope], Any] = field(default_factory=dict, repr=False)

    # ----------------------------------------------------------------------------- building

    @classmethod
    def build(
        cls, meta: SnapshotMeta, records: Iterable[RawRecord], *, verdicts: Iterable[VerdictRow] | None = None
    ) -> Inventory:
        """Build from records; ``records`` may be a stream (each body can be freed once read).

        ``verdicts``: policy states already folded (a snapshot's stored verdicts); ``records``
        then need not carry the raw states.
        """
        with paused_gc():
            inv = cls(meta=meta, errors=list(meta.errors))
            if verdicts is not None:
                inv._stored_verdicts = list(verdicts)
            metadata: dict[str, Mapping[str, Any]] = {}
            assessments: list[RawRecord] = []
            for rec in records:
                inv.record_count += 1
                try:
                    inv._add(rec, metadata, assessments)
                except (nz.MalformedPayload, TypeError, AttributeError, KeyError, ValueError) as exc:
                    inv.errors.append(
                        ScopeError(rec.scope or rec.id, f"Malformed {_kind_word(rec.kind)} payload: {exc}", "malformed")
                    )
            for rec in assessments:
                try:
                    inv.recommendations.append(nz.assessment(rec.body, metadata))
                except (nz.MalformedPayload, TypeError, AttributeError, ValueError) as exc:
                    inv.errors.append(
                        ScopeError(rec.scope or rec.id, f"Malformed assessment payload: {exc}", "malformed")
                    )
            inv._index()
        return inv

    def _add(self, rec: RawRecord, metadata: dict[str, Mapping[str, Any]], assessments: list[RawRecord]) -> None:
        kind, body = rec.kind, rec.body
        if kind == Kind.DEPLOYMENT:
            self.deployments.append(nz.deployment(body))
        elif kind == Kind.RAI_POLICY:
            rail = nz.rai_policy(body)
            self.guardrails[idkey(rail.id)] = rail
        elif kind == Kind.POLICY_STATE:
            self._add_state(nz.policy_state(body))
        elif kind == Kind.ACCOUNT:
            acct = nz.account(body)
            self.accounts[idkey(acct.id)] = acct
        elif kind == Kind.PROJECT:
            proj = nz.project(body)
            self.projects[idkey(proj.id)] = proj
        elif kind == Kind.SUBSCRIPTION:
            sub = nz.subscription(body)
            self.subscriptions[sub.subscription_id.lower()] = sub
        elif kind == Kind.RESOURCE_GROUP:
            rg = nz.resource_group(body)
            self.resource_groups[idkey(rg.id)] = rg
        elif kind == Kind.POLICY_ASSIGNMENT:
            if nz.is_guardrail_assignment(body):
                self.policies.append(nz.guardrail_policy(body))
            else:
                self.other_assignments += 1
        elif kind == Kind.ASSESSMENT:
            assessments.append(rec)
        elif kind == Kind.ASSESSMENT_METADATA:
            if isinstance(body, Mapping) and body.get("name"):
                metadata[str(body["name"]).lower()] = body
        elif kind == Kind.ALERT:
            self.alerts.append(nz.alert(body))
        elif kind == Kind.PRICING:
            if isinstance(body, Mapping) and str(body.get("name", "")).lower() == "ai":
                plan = nz.pricing(body)
                self.plans[plan.subscription_id.lower()] = plan
        elif kind == Kind.DEFENDER_AI_SETTING:
            setting = nz.defender_ai_setting(body)
            self.ai_settings[idkey(setting.account_id)] = setting
        # POLICY_SET_DEFINITION and kinds from newer versions are kept raw only.

    def _add_state(self, st: ComplianceRecord) -> None:
        """Fold one state into its (resource, assignment) verdict as it streams in."""
        self._states.add(st)

    def _index(self) -> None:
        for proj in self.projects.values():
            self._projects_by_account.setdefault(idkey(proj.account_id), []).append(proj)
        for projs in self._projects_by_account.values():
            projs.sort(key=lambda p: p.label.lower())
        self._index_rails_and_policies()
        # Azure's verdicts, one per (resource, assignment): folded here, or stored in the snapshot.
        rows = self._states.rows() + self._stored_verdicts
        for row in rows:
            self._verdicts[(row.resource_key, row.assignment_key)] = row.verdict
        self._evaluated_assignments = latest_by_assignment(rows)
        self.state_count = sum(row.records for row in rows)
        self._states = VerdictFolder()
        self._stored_verdicts = []

    def _index_rails_and_policies(self) -> None:
        """Guardrails by account, policies by scope, and the display order (also after a patch)."""
        for rail in self.guardrails.values():
            self._rails_by_account.setdefault(idkey(rail.account_id), {})[rail.name.lower()] = rail
        for pol in self.policies:
            sub, rg = pol.subscription_id.lower(), (pol.resource_group or "").lower()
            self._policies_by_scope.setdefault((sub, rg), []).append(pol)
        self.deployments.sort(key=lambda d: (d.subscription_id.lower(), d.resource_group.lower(), d.account_name.lower(), d.name.lower()))
        self.policies.sort(key=lambda p: p.label.lower())

    # ----------------------------------------------------------------------------- lookups

    def subscription_name(self, subscription_id: str) -> str:
        sub = self.subscriptions.get(subscription_id.lower())
        return sub.display_name if sub else subscription_id

    def projects_of(self, account_id: str) -> list[Project]:
        return self._projects_by_account.get(idkey(account_id), [])

    def account_of(self, dep: Deployment) -> Account | None:
        return self.accounts.get(dep.account_key)

    def account_guardrails(self, account_id: str) -> list[Guardrail]:
        return sorted(self._rails_by_account.get(idkey(account_id), {}).values(), key=lambda g: g.name.lower())

    def effective(self, dep: Deployment) -> EffectiveGuardrail:
        acct = dep.account_key
        name = dep.rai_policy_name or ""
        ck = (acct, name.lower())
        eff = self._eff_cache.get(ck)
        if eff is None:
            eff = self._resolve(acct, name)
            self._eff_cache[ck] = eff
        return eff

    def _resolve(self, acct: str, name: str) -> EffectiveGuardrail:
        if not name:
            rail = SYSTEM_GUARDRAILS[ACCOUNT_DEFAULT]
            return resolve_effective(
                GuardrailOrigin.ACCOUNT_DEFAULT,
                f"None set (account default: {ACCOUNT_DEFAULT})",
                rail,
                key=f"default:{ACCOUNT_DEFAULT}",
                note=f"This deployment names no guardrail, so the account default ({ACCOUNT_DEFAULT}) applies.",
            )
        custom = self._rails_by_account.get(acct, {}).get(name.lower())
        if custom is not None:
            return resolve_effective(GuardrailOrigin.CUSTOM, custom.name, custom, key=idkey(custom.id))
        system = system_guardrail(name)
        if system is not None:
            note = (
                f"{name} is a system guardrail whose contents fcdesk does not know."
                if system.unknown
                else f"{name} is a system guardrail: it cannot be edited."
            )
            return resolve_effective(GuardrailOrigin.SYSTEM, system.name, system, key=f"system:{name.lower()}", note=note)
        return resolve_effective(
            GuardrailOrigin.MISSING,
            f"{name} (not found)",
            None,
            key=f"missing:{acct}:{name.lower()}",
            note=f"The guardrail '{name}' is not on the account (deleted, or it could not be read).",
        )

    def local(self, dep: Deployment, policy: GuardrailPolicy) -> Evaluation:
        eff = self.effective(dep)
        fast = (eff.key, policy.id)  # cheap string keys first ...
        ev = self._eval_by_name.get(fast)
        if ev is None:
            ck = (eff.fingerprint, policy.content_key())  # ... then by what they say, not their names
            ev = self._eval_cache.get(ck)
            if ev is None:
                ev = evaluate(policy, eff)
                self._eval_cache[ck] = ev
            self._eval_by_name[fast] = ev
        return ev

    def azure(self, dep: Deployment, policy: GuardrailPolicy) -> AzureVerdict | None:
        return self._verdicts.get((dep.key, policy.key))

    @staticmethod
    def is_excepted(policy: GuardrailPolicy, dep: Deployment) -> bool:
        dkey = dep.key
        for ns in policy.not_scopes:
            nk = idkey(ns)
            if dkey == nk or dkey.startswith(nk + "/"):
                return True
        return False

    def policies_covering(self, dep: Deployment) -> Iterator[GuardrailPolicy]:
        """Policies whose scope contains the deployment (exceptions not yet applied)."""
        sub = dep.subscription_id.lower()
        yield from self._policies_by_scope.get((sub, ""), ())
        yield from self._policies_by_scope.get((sub, dep.resource_group.lower()), ())

    def governing(self, dep: Deployment) -> list[GuardrailPolicy]:
        return [p for p in self.policies_covering(dep) if not self.is_excepted(p, dep)]

    def assignment_evaluated_at(self, policy: GuardrailPolicy) -> datetime | None:
        return self._evaluated_assignments.get(policy.key)

    def has_states(self, policy: GuardrailPolicy) -> bool:
        return policy.key in self._evaluated_assignments

    # ----------------------------------------------------------------------------- scoping

    def in_scope(self, dep: Deployment, scope: Scope) -> bool:
        if scope.subscriptions is not None and dep.subscription_id.lower() not in scope.subscriptions:
            return False
        if scope.project_id is not None:
            proj = self.projects.get(idkey(scope.project_id))
            return proj is not None and idkey(proj.account_id) == dep.account_key
        return True

    def scoped_deployments(self, scope: Scope = ALL) -> list[Deployment]:
        if scope == ALL:
            return self.deployments
        return [d for d in self.deployments if self.in_scope(d, scope)]

    def _resource_in_scope(self, resource_id: str, scope: Scope) -> bool:
        rk = idkey(resource_id)
        if scope.subscriptions is not None:
            parts = rk.split("/")
            if len(parts) < 3 or parts[2] not in scope.subscriptions:
                return False
        if scope.project_id is not None:
            proj = self.projects.get(idkey(scope.project_id))
            if proj is None:
                return False
            ak = idkey(proj.account_id)
            return rk == ak or rk.startswith(ak + "/")
        return True

    def scoped_policies(self, scope: Scope = ALL) -> list[GuardrailPolicy]:
        out = []
        for pol in self.policies:
            if scope.subscriptions is not None and pol.subscription_id.lower() not in scope.subscriptions:
                continue
            if scope.project_id is not None:
                proj = self.projects.get(idkey(scope.project_id))
                acct = self.accounts.get(idkey(proj.account_id)) if proj else None
                if acct is None or idkey(pol.subscription_id) != idkey(acct.subscription_id):
                    continue
                if pol.resource_group and pol.resource_group.lower() != acct.resource_group.lower():
                    continue
            out.append(pol)
        return out

    def scoped_recommendations(self, scope: Scope = ALL, *, ai_only: bool = True) -> list[Recommendation]:
        return [
            r
            for r in self.recommendations
            if (r.on_ai_resource or not ai_only) and self._resource_in_scope(r.resource_id or r.id, scope)
        ]

    def scoped_alerts(self, scope: Scope = ALL) -> list[Alert]:
        out = []
        for al in self.alerts:
            targets = al.resource_ids or [al.id]
            if any(self._resource_in_scope(t, scope) for t in targets):
                out.append(al)
        return out

    def scoped_subscriptions(self, scope: Scope = ALL) -> list[Subscription]:
        subs = sorted(self.subscriptions.values(), key=lambda s: s.display_name.lower())
        if scope.subscriptions is None:
            return subs
        return [s for s in subs if s.subscription_id.lower() in scope.subscriptions]

    # ----------------------------------------------------------------------------- derived rows

    @_derived
    def policy_rows(self, scope: Scope = ALL) -> list[PolicyRow]:
        policies = self.scoped_policies(scope)
        by_id = {p.key: p for p in policies}
        assets: dict[str, list[AssetRow]] = {k: [] for k in by_id}
        excepted: dict[str, list[Deployment]] = {k: [] for k in by_id}
        for dep in self.scoped_deployments(scope):
            for pol in self.policies_covering(dep):
                pk = pol.key
                if pk not in by_id:
                    continue
                if self.is_excepted(pol, dep):
                    excepted[pk].append(dep)
                else:
                    assets[pk].append(self._asset(dep, pol))
        rows = []
        for pk, pol in by_id.items():
            status = self._status(pol, assets[pk])
            since = self.pending_since(pol) if status is PolicyStatus.PENDING else None
            rows.append(PolicyRow(pol, status, assets[pk], excepted[pk], self.assignment_evaluated_at(pol), since))
        return rows

    def pending_since(self, pol: GuardrailPolicy) -> datetime | None:
        """When fcdesk wrote this policy (or a guardrail it governs), if Azure has not re-evaluated since."""
        since = self.pending.get(pol.key)
        if since is None:
            return None
        evaluated = self.assignment_evaluated_at(pol)
        if evaluated is not None and evaluated.tzinfo is not None and since.tzinfo is not None and evaluated >= since:
            return None
        return since

    def _status(self, pol: GuardrailPolicy, assets: list[AssetRow]) -> PolicyStatus:
        if pol.disabled:
            return PolicyStatus.DISABLED
        if self.pending_since(pol) is not None:
            return PolicyStatus.PENDING
        if any(a.azure is not None and not a.azure.compliant for a in assets):
            return PolicyStatus.VIOLATIONS
        if not self.has_states(pol) or any(a.azure is None for a in assets):
            return PolicyStatus.PENDING
        return PolicyStatus.COMPLIANT

    def _asset(self, dep: Deployment, pol: GuardrailPolicy) -> AssetRow:
        return AssetRow(dep, pol, self.effective(dep), self.local(dep, pol), self.azure(dep, pol))

    @_derived
    def asset_rows(self, scope: Scope = ALL) -> list[AssetRow]:
        rows = []
        for dep in self.scoped_deployments(scope):
            for pol in self.governing(dep):
                if scope.subscriptions is None or pol.subscription_id.lower() in scope.subscriptions:
                    rows.append(self._asset(dep, pol))
        return rows

    @_derived
    def matrix_rows(self, scope: Scope = ALL) -> list[MatrixRow]:
        rows = []
        proj_label: dict[str, str] = {}
        gap_cache: dict[tuple[object, ...], tuple[int, ...]] = {}
        for dep in self.scoped_deployments(scope):
            eff = self.effective(dep)
            ak = dep.account_key
            label = proj_label.get(ak)
            if label is None:
                label = ", ".join(p.label for p in self.projects_of(dep.account_id))
                proj_label[ak] = label
            gaps = gap_cache.get(eff.fingerprint)
            if gaps is None:
                gaps = gap_columns(eff)
                gap_cache[eff.fingerprint] = gaps
            rows.append(MatrixRow(dep, eff, self.subscription_name(dep.subscription_id), label, gaps))
        return rows

    def unfiltered_subscriptions(self, scope: Scope = ALL) -> list[Subscription]:
        """Subscriptions with deployments of which none filters anything at all."""
        seen: dict[str, bool] = {}
        for dep in self.scoped_deployments(scope):
            sk = dep.subscription_id.lower()
            seen[sk] = seen.get(sk, False) or self.effective(dep).has_any_filtering
        return [self.subscriptions.get(sk) or Subscription(f"/subscriptions/{sk}", sk, sk) for sk, any_f in seen.items() if not any_f]

    def violating_deployments(self, scope: Scope = ALL) -> list[Deployment]:
        """Deployments failing at least one policy (Azure's verdict where there is one)."""
        return [
            dep
            for dep in self.scoped_deployments(scope)
            if any(self._asset(dep, pol).violating for pol in self.governing(dep) if not pol.disabled)
        ]

    def patched(
        self,
        upserts: Iterable[RawRecord] = (),
        removed: Iterable[str] = (),
        *,
        pending: Mapping[str, datetime] | None = None,
    ) -> Inventory:
        """A new inventory with some resources written or deleted (after a write by fcdesk).

        ``upserts`` replace the resources with the same id (deployments, RAI policies, guardrail
        policy assignments, the Defender for AI plan of a subscription — its ``AI`` pricing — and
        Defender for AI settings of accounts); ``removed`` are ids that no longer exist. Azure's
        verdicts are kept (minus those of removed assignments) and the local evaluation reflects the
        change at once.
        ``pending``: assignment keys to mark "Pending evaluation" from that time (merged).
        """
        deleted = {idkey(r) for r in removed}
        gone = set(deleted)
        ups = list(upserts)
        with paused_gc():
            inv = Inventory(
                meta=self.meta,
                subscriptions=self.subscriptions,
                resource_groups=self.resource_groups,
                accounts=self.accounts,
                projects=self.projects,
                deployments=list(self.deployments),
                guardrails=dict(self.guardrails),
                policies=list(self.policies),
                other_assignments=self.other_assignments,
                state_count=self.state_count,
                recommendations=self.recommendations,
                alerts=self.alerts,
                plans=dict(self.plans),
                ai_settings=dict(self.ai_settings),
                errors=list(self.errors),
                record_count=self.record_count,
                pending={**self.pending, **(pending or {})},
            )
            for rec in ups:
                gone.add(idkey(rec.body.get("id") if isinstance(rec.body, Mapping) else rec.id) or idkey(rec.id))
            inv.deployments = [d for d in inv.deployments if d.key not in gone]
            inv.guardrails = {k: g for k, g in inv.guardrails.items() if k not in gone}
            inv.policies = [p for p in inv.policies if p.key not in gone]
            for rec in ups:
                if rec.kind == Kind.DEPLOYMENT:
                    inv.deployments.append(nz.deployment(rec.body))
                elif rec.kind == Kind.RAI_POLICY:
                    rail = nz.rai_policy(rec.body)
                    inv.guardrails[idkey(rail.id)] = rail
                elif rec.kind == Kind.POLICY_ASSIGNMENT and nz.is_guardrail_assignment(rec.body):
                    inv.policies.append(nz.guardrail_policy(rec.body))
                elif rec.kind == Kind.PRICING and str(rec.body.get("name", "")).lower() == "ai":
                    plan = nz.pricing(rec.body)
                    inv.plans[plan.subscription_id.lower()] = plan
                elif rec.kind == Kind.DEFENDER_AI_SETTING:
                    setting = nz.defender_ai_setting(rec.body)
                    inv.ai_settings[idkey(setting.account_id)] = setting
            inv._projects_by_account = self._projects_by_account
            inv._index_rails_and_policies()
            # Azure's verdicts stay what Azure last said (pending marks say they are about to change).
            inv._verdicts = {k: v for k, v in self._verdicts.items() if k[1] not in deleted}
            inv._evaluated_assignments = {k: v for k, v in self._evaluated_assignments.items() if k not in deleted}
        return inv

    def prepare(self, scope: Scope | None = None) -> Inventory:
        """Compute what the four tabs show for ``scope`` now (call it on a worker thread)."""
        scope = ALL if scope is None else scope
        self.policy_rows(scope)
        self.asset_rows(scope)
        self.matrix_rows(scope)
        self.scoped_recommendations(scope)
        self.scoped_alerts(scope)
        return self


def _kind_word(kind: Kind | str) -> str:
    return str(kind).replace("_", " ")
