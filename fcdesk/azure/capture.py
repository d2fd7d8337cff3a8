"""One live capture: every ARM list fcdesk needs, concurrently, kept as the raw JSON received.

``await capture(credential, options)`` returns a :class:`~fcdesk.azure.contract.CaptureResult`
(``meta`` + ``RawRecord`` list) ready for :func:`fcdesk.store.snapshot.write_snapshot`.

What is read (the api-version of each is the installed SDK package's default, looked up once by
:func:`fcdesk.azure._http.api_versions`; the values below are those of the pinned packages):

- ``GET /subscriptions`` (2022-12-01);
- once per capture: the guardrail initiative
  ``GET /providers/Microsoft.Authorization/policySetDefinitions/5207647b-…`` (the policy client's
  default, 2026-06-01; 404: absent), and the Defender catalogue
  ``GET /providers/Microsoft.Security/assessmentMetadata`` (2021-06-01), of which only the entries the
  assessments refer to are kept;
- per subscription ``{s}``: ``/resourcegroups`` (2025-04-01);
  ``/providers/Microsoft.CognitiveServices/accounts`` (2025-09-01);
  ``/providers/Microsoft.Authorization/policyAssignments`` (all of them, raw: 2026-06-01);
  ``POST /providers/Microsoft.PolicyInsights/policyStates/latest/queryResults`` with
  ``$filter=policySetDefinitionId eq '<initiative>'`` and ``$select=`` the fields of
  ``normalize.POLICY_STATE_FIELDS`` (2019-10-01); ``/providers/Microsoft.Security/assessments``
  (all: 2021-06-01), ``…/alerts`` (2022-01-01) and ``…/pricings/AI`` (2024-01-01; 404: not enabled);
- per account ``{acct}`` (2025-09-01): ``/deployments``, ``/raiPolicies`` (the guardrails),
  ``/defenderForAISettings`` (404: absent) and, for Foundry accounts (``allowProjectManagement``),
  ``/projects`` (404: absent).

Every list follows ``nextLink``/``@odata.nextLink`` (policy states: POST again).

Order: the subscription list first; then per subscription its resource groups and accounts
together, which double as the probe of the subscription: a 401/403/404, a timeout or a dropped
connection there ends that subscription with one :class:`ScopeError` (the others go on); then its
policy, Defender and per-account lists, all at once. Everything shares one bound on requests in
flight (``options.concurrency``), retries and throttling (see :mod:`fcdesk.azure._http`).

Concurrency default (``CaptureOptions.concurrency`` = 32): ARM allows each subscription a burst of
250 reads refilled at 25/s; 32 requests in flight at ARM's usual 50-150 ms per read is about
200-600 requests/s, i.e. the burst of one subscription lasts about a second and the steady rate of
a few subscriptions is used, while staying far below aiohttp's and ARM's connection limits and the
CPU a 2-core laptop spends on TLS and JSON. More in flight only trades throughput for 429s.

Errors never end the capture: each failed list becomes a :class:`ScopeError` on the subscription or
account it belongs to (in ``result.errors`` and ``meta.errors``, with ``meta.partial``).
Cancelling (``cancel.set()``) stops within a second and returns what was fetched so far.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fcdesk.azure._http import ArmHttp
from fcdesk.azure.contract import CaptureOptions, CaptureResult, Progress, ProgressCallback, RecordsCallback
from fcdesk.azure.errors import CANCELLED, ArmError
from fcdesk.core.model import id_segment
from fcdesk.core.normalize import POLICY_STATE_FIELDS, policy_state_key
from fcdesk.core.policy import INITIATIVE_ID
from fcdesk.core.records import Kind, RawRecord, ScopeError, SnapshotMeta, Source

log = logging.getLogger(__name__)

STAGES = ("Subscriptions", "Accounts", "Deployments", "Policy states", "Defender", "Done")
S_SUBS, S_ACCOUNTS, S_DEPLOYMENTS, S_POLICY, S_DEFENDER, S_DONE = STAGES
UNREADABLE_SUBSCRIPTION = "Reading subscription"  #: how the one error of a skipped subscription starts
PROGRESS_INTERVAL_S = 0.05  #: at most ~20 progress calls per second
CANCEL_GRACE_S = 0.5  #: how long cancelled requests get to unwind before the result is returned

_SIDE = ""  #: the "stage" of tenant-level look-ups, which never set the stage shown
_CS = "/providers/Microsoft.CognitiveServices/accounts"
_SEC = "/providers/Microsoft.Security"


async def capture(
    credential: Any,
    options: CaptureOptions,
    *,
    on_progress: ProgressCallback | None = None,
    on_records: RecordsCallback | None = None,
    cancel: asyncio.Event | None = None,
) -> CaptureResult:
    """Capture everything ``options`` asks for, concurrently (see the module doc)."""
    return await _run(credential, options, on_progress, on_records, cancel, sequential=False)


async def sequential_capture(
    credential: Any,
    options: CaptureOptions,
    *,
    on_progress: ProgressCallback | None = None,
    on_records: RecordsCallback | None = None,
    cancel: asyncio.Event | None = None,
) -> CaptureResult:
    """The same requests one after the other: the benchmark's baseline."""
    return await _run(credential, options, on_progress, on_records, cancel, sequential=True)


async def _run(
    credential: Any,
    options: CaptureOptions,
    on_progress: ProgressCallback | None,
    on_records: RecordsCallback | None,
    cancel: asyncio.Event | None,
    *,
    sequential: bool,
) -> CaptureResult:
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    engine = _Capture(options, on_progress, on_records, sequential=sequential)
    http = ArmHttp(
        credential,
        options.cloud,
        concurrency=1 if sequential else options.concurrency,
        request_timeout_s=options.request_timeout_s,
        max_retries=options.max_retries,
        on_request=engine.request_done,
    )
    engine.http = http
    cancelled = False
    await http.open()
    try:
        main = asyncio.create_task(engine.run(), name="fcdesk-capture")
        waiter = (
            asyncio.create_task(cancel.wait(), name="fcdesk-capture-cancel") if cancel is not None else None
        )
        try:
            await asyncio.wait(
                {main, waiter} if waiter is not None else {main}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not main.done():  # cancelled by the user, or our own caller was cancelled
                main.cancel()
                cancelled = True
                await asyncio.wait({main}, timeout=CANCEL_GRACE_S)
            if waiter is not None and not waiter.done():
                waiter.cancel()
                await asyncio.wait({waiter})
        if not cancelled and main.exception() is not None:
            raise _first_leaf(main.exception())  # a bug surfaces here rather than as a silent partial result
    finally:
        await http.close()
        if not main.done():
            # Requests that did not unwind within the grace period are stuck on their connections;
            # closing the session above aborted those, so the task ends now: never leave it behind.
            await asyncio.wait({main}, timeout=CANCEL_GRACE_S)
            if not main.done():
                main.add_done_callback(_consume)
    if cancelled:
        engine.errors.append(CANCELLED)
    engine.finish()
    meta = SnapshotMeta(
        captured_at=started,
        source=Source.LIVE,
        tenant_id=options.tenant_id or engine.tenant_id,
        cloud=options.cloud.name,
        scopes=list(engine.subscription_ids),  # subscription ids, as the demo writes them
        partial=cancelled or bool(engine.errors),
        label=options.label,
        errors=list(engine.errors),
    )
    return CaptureResult(
        meta=meta,
        records=engine.records,
        requests=http.requests,
        seconds=time.perf_counter() - t0,
        cancelled=cancelled,
        errors=list(engine.errors),
    )


class _Capture:
    """The walk over ARM. ``run`` may be cancelled at any await; what it gathered stays usable."""

    http: ArmHttp

    def __init__(
        self,
        options: CaptureOptions,
        on_progress: ProgressCallback | None,
        on_records: RecordsCallback | None,
        *,
        sequential: bool,
    ) -> None:
        self.options = options
        self.on_progress = on_progress
        self.on_records = on_records
        self.sequential = sequential
        self.records: list[RawRecord] = []
        self.errors: list[ScopeError] = []
        self.subscription_ids: list[str] = []
        self.tenant_id = ""
        self._seen: set[tuple[str, str]] = set()
        self._metadata: list[RawRecord] = []  # held back until we know which names are referenced
        self._assessment_names: set[str] = set()
        self._total = dict.fromkeys((*STAGES, _SIDE), 0)
        self._done = dict.fromkeys((*STAGES, _SIDE), 0)
        self._stage = S_SUBS
        self._last_progress = 0.0
        self._last_stage = ""

    # --------------------------------------------------------------------------- the walk

    async def run(self) -> None:
        v = self.http.versions
        subs = await self._subscriptions()
        await self._all(
            *(self._subscription(sub) for sub in subs),
            # Small tenant-level look-ups: counted in done/total, but they do not set the stage shown.
            self._one(
                _SIDE,
                Kind.POLICY_SET_DEFINITION,
                "policy",
                INITIATIVE_ID,
                "",
                "Reading the guardrail initiative",
                {"api-version": v["policy"]},
            ),
            self._list(
                _SIDE,
                Kind.ASSESSMENT_METADATA,
                "security",
                f"{_SEC}/assessmentMetadata",
                "",
                "Reading the Defender recommendation catalogue",
                {"api-version": v["assessment_metadata"]},
                hold=True,
            ),
        )

    async def _subscriptions(self) -> list[str]:
        wanted = [s.strip() for s in (self.options.subscriptions or []) if s and s.strip()]
        wanted = [s.rsplit("/", 1)[-1] if s.lower().startswith("/subscriptions/") else s for s in wanted]
        listed: list[str] = []
        try:
            for body in await self._list(
                S_SUBS,
                Kind.SUBSCRIPTION,
                "subscriptions",
                "/subscriptions",
                "",
                "Listing the subscriptions",
                {"api-version": self.http.versions["subscriptions"]},
                keep=lambda b: not wanted or _sub_id(b).lower() in {w.lower() for w in wanted},
                raise_errors=True,
            ):
                sub_id = _sub_id(body)
                if sub_id:
                    listed.append(sub_id)
                    if not self.tenant_id and isinstance(body.get("tenantId"), str):
                        self.tenant_id = body["tenantId"]
        except ArmError as exc:
            self.errors.append(exc.to_scope_error("", "Listing the subscriptions"))
            self._progress(force=True)
            if not wanted:
                return []
        # A requested subscription that the list does not show is still tried: its own calls say why.
        known = {s.lower() for s in listed}
        subs = listed + [w for w in wanted if w.lower() not in known]
        self.subscription_ids = list(dict.fromkeys(subs))
        return self.subscription_ids

    async def _subscription(self, sub_id: str) -> None:
        v = self.http.versions
        scope = f"/subscriptions/{sub_id}"
        first = await self._all_results(
            self._list(
                S_ACCOUNTS,
                Kind.ACCOUNT,
                "cognitive",
                f"{scope}{_CS}",
                scope,
                "Listing the Cognitive Services accounts",
                {"api-version": v["cognitive"]},
                raise_errors=True,
            ),
            self._list(
                S_ACCOUNTS,
                Kind.RESOURCE_GROUP,
                "resources",
                f"{scope}/resourcegroups",
                scope,
                "Listing the resource groups",
                {"api-version": v["resource_groups"]},
                raise_errors=True,
            ),
        )
        fatal = next((r for r in first if isinstance(r, ArmError) and r.ends_subscription), None)
        if fatal is not None:
            self.errors.append(fatal.to_scope_error(scope, f"{UNREADABLE_SUBSCRIPTION} {sub_id}"))
            self._progress(force=True)
            return
        for result, what in zip(
            first, ("Listing the Cognitive Services accounts", "Listing the resource groups"), strict=True
        ):
            if isinstance(result, ArmError):
                self.errors.append(result.to_scope_error(scope, f"{what} of subscription {sub_id}"))
        accounts = first[0] if isinstance(first[0], list) else []
        states_params = {
            "api-version": v["policy_states"],
            "$filter": f"policySetDefinitionId eq '{INITIATIVE_ID}'",
            "$select": ",".join(POLICY_STATE_FIELDS),
        }
        await self._all(
            self._list(
                S_POLICY,
                Kind.POLICY_ASSIGNMENT,
                "policy",
                f"{scope}/providers/Microsoft.Authorization/policyAssignments",
                scope,
                f"Listing the policy assignments of subscription {sub_id}",
                {"api-version": v["policy"]},
            ),
            self._list(
                S_POLICY,
                Kind.POLICY_STATE,
                "insights",
                f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
                scope,
                f"Querying the guardrail policy states of subscription {sub_id}",
                states_params,
                method="POST",
            ),
            self._list(
                S_DEFENDER,
                Kind.ASSESSMENT,
                "security",
                f"{scope}{_SEC}/assessments",
                scope,
                f"Listing the Defender recommendations of subscription {sub_id}",
                {"api-version": v["assessments"]},
            ),
            self._list(
                S_DEFENDER,
                Kind.ALERT,
                "security",
                f"{scope}{_SEC}/alerts",
                scope,
                f"Listing the Defender alerts of subscription {sub_id}",
                {"api-version": v["alerts"]},
            ),
            self._one(
                S_DEFENDER,
                Kind.PRICING,
                "security",
                f"{scope}{_SEC}/pricings/AI",
                scope,
                f"Reading the Defender for AI plan of subscription {sub_id}",
                {"api-version": v["pricings"]},
            ),
            *(self._account(body) for body in accounts),
        )

    async def _account(self, body: dict[str, Any]) -> None:
        acct_id = body["id"]
        name = str(body.get("name") or acct_id.rsplit("/", 1)[-1])
        params = {"api-version": self.http.versions["cognitive"]}
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        lists: list[Coroutine[Any, Any, Any]] = [
            self._list(
                S_DEPLOYMENTS,
                Kind.DEPLOYMENT,
                "cognitive",
                f"{acct_id}/deployments",
                acct_id,
                f"Listing the deployments of account {name}",
                params,
            ),
            self._list(
                S_DEPLOYMENTS,
                Kind.RAI_POLICY,
                "cognitive",
                f"{acct_id}/raiPolicies",
                acct_id,
                f"Listing the guardrails of account {name}",
                params,
            ),
            self._list(
                S_DEFENDER,
                Kind.DEFENDER_AI_SETTING,
                "cognitive",
                f"{acct_id}/defenderForAISettings",
                acct_id,
                f"Reading the Defender for AI setting of account {name}",
                params,
                absent_on_404=True,
            ),
        ]
        if props.get("allowProjectManagement") is True:
            lists.insert(
                0,
                self._list(
                    S_DEPLOYMENTS,
                    Kind.PROJECT,
                    "cognitive",
                    f"{acct_id}/projects",
                    acct_id,
                    f"Listing the projects of account {name}",
                    params,
                    absent_on_404=True,
                ),
            )
        await self._all(*lists)

    # ------------------------------------------------------------------------- the fetchers

    def _list(self, stage: str, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, list[dict[str, Any]]]:
        """Count the list as known now (progress), and return the coroutine that fetches it."""
        self._begin(stage)
        return self._fetch_list(stage, *args, **kwargs)

    def _one(self, stage: str, *args: Any) -> Coroutine[Any, Any, None]:
        self._begin(stage)
        return self._fetch_one(stage, *args)

    async def _fetch_list(
        self,
        stage: str,
        kind: Kind,
        client: str,
        path: str,
        scope: str,
        what: str,
        params: dict[str, str],
        *,
        method: str = "GET",
        keep: Callable[[dict[str, Any]], bool] | None = None,
        raise_errors: bool = False,
        absent_on_404: bool = False,
        hold: bool = False,
    ) -> list[dict[str, Any]]:
        """Fetch every page of one list; add its records; return the bodies (for the walk)."""
        bodies: list[dict[str, Any]] = []
        try:
            async for page in self.http.pages(client, path, params, method=method):
                batch = self._records(kind, page, scope, keep, bodies)
                if hold:
                    self._metadata.extend(batch)
                else:
                    self._emit(batch)
        except ArmError as exc:
            if absent_on_404 and exc.status == 404:
                return bodies
            if raise_errors:
                raise
            self.errors.append(exc.to_scope_error(scope, what))
        finally:
            self._end(stage)
        return bodies

    async def _fetch_one(
        self, stage: str, kind: Kind, client: str, path: str, scope: str, what: str, params: dict[str, str]
    ) -> None:
        """One object (404: absent, which is an answer, not an error)."""
        try:
            body = await self.http.request(client, "GET", path, params)
            if not isinstance(body, dict):
                raise ArmError(200, "MalformedJson", "The answer was not a JSON object.")
            self._emit(self._records(kind, [body], scope, None, []))
        except ArmError as exc:
            if exc.status != 404:
                self.errors.append(exc.to_scope_error(scope, what))
        finally:
            self._end(stage)

    def _records(
        self,
        kind: Kind,
        items: list[Any],
        scope: str,
        keep: Callable[[dict[str, Any]], bool] | None,
        bodies: list[dict[str, Any]],
    ) -> list[RawRecord]:
        batch: list[RawRecord] = []
        skipped = 0
        for item in items:
            if not isinstance(item, dict):
                skipped += 1
                continue
            if kind is Kind.POLICY_STATE:
                record_id = policy_state_key(item)
            else:
                record_id = item.get("id")
                if not isinstance(record_id, str) or not record_id:
                    skipped += 1
                    continue
            if keep is not None and not keep(item):
                continue
            key = (kind.value, record_id)
            if key in self._seen:  # e.g. a management-group assignment listed under every subscription
                continue
            self._seen.add(key)
            bodies.append(item)
            if kind is Kind.ASSESSMENT and isinstance(item.get("name"), str):
                self._assessment_names.add(item["name"].lower())
            batch.append(RawRecord(kind, record_id, item, scope))
        if skipped:
            self.errors.append(
                ScopeError(
                    scope,
                    f"{skipped} {kind.value.replace('_', ' ')} item(s) without an id were skipped.",
                    "MalformedJson",
                )
            )
        return batch

    def _emit(self, batch: list[RawRecord]) -> None:
        if not batch:
            return
        self.records.extend(batch)
        if self.on_records is not None:
            self.on_records(batch)

    def finish(self) -> None:
        """Add the assessment metadata the assessments refer to; final progress."""
        names = self._assessment_names
        self._emit([r for r in self._metadata if str(r.body.get("name", "")).lower() in names])
        self._metadata = []
        self._stage = S_DONE
        self._progress(force=True)

    # --------------------------------------------------------------------------- concurrency

    async def _all(self, *coros: Coroutine[Any, Any, Any]) -> None:
        await self._all_results(*coros)

    async def _all_results(self, *coros: Coroutine[Any, Any, Any]) -> list[Any]:
        """Run ``coros`` (at once, or one by one for the baseline); ArmErrors are returned, not raised."""
        if not self.sequential:
            async with (
                asyncio.TaskGroup() as group
            ):  # a bug in one cancels the rest instead of orphaning them
                tasks = [group.create_task(self._guard(coro)) for coro in coros]
            return [task.result() for task in tasks]
        out: list[Any] = []
        try:
            for coro in coros:
                out.append(await self._guard(coro))
        finally:
            for coro in coros[
                len(out) + 1 :
            ]:  # cancelled or failed: never-started ones are closed, not leaked
                coro.close()
        return out

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except ArmError as exc:
            return exc

    # ------------------------------------------------------------------------------ progress

    def _begin(self, stage: str) -> None:
        self._total[stage] += 1
        self._progress()

    def _end(self, stage: str) -> None:
        self._done[stage] += 1
        self._progress()

    def request_done(self) -> None:
        self._progress()

    def _current_stage(self) -> str:
        """The first stage with lists still running; never earlier than the stage already shown."""
        for stage in STAGES[:-1]:
            if self._done[stage] < self._total[stage]:
                break
        else:
            return self._stage
        if STAGES.index(stage) > STAGES.index(self._stage):
            self._stage = stage
        return self._stage

    def _progress(self, *, force: bool = False) -> None:
        if self.on_progress is None:
            return
        stage = S_DONE if self._stage == S_DONE else self._current_stage()
        now = time.monotonic()
        if not force and stage == self._last_stage and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        self._last_stage = stage
        http = getattr(self, "http", None)
        self.on_progress(
            Progress(
                stage=stage,
                done=sum(self._done.values()),
                total=sum(self._total.values()),
                requests=http.requests if http is not None else 0,
                errors=len(self.errors),
            )
        )


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a straggling cancelled task's outcome, so nothing is reported as never retrieved."""
    if not task.cancelled():
        task.exception()


def readable_subscriptions(result: CaptureResult) -> list[str]:
    """The ids of the captured subscriptions that were not skipped as unreadable."""
    failed = {
        e.scope.rsplit("/", 1)[-1].lower()
        for e in result.errors
        if e.scope.count("/") == 2 and e.message.startswith(UNREADABLE_SUBSCRIPTION)
    }
    return [s for s in result.meta.scopes if s.rsplit("/", 1)[-1].lower() not in failed]


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _sub_id(body: dict[str, Any]) -> str:
    sub = body.get("subscriptionId")
    if isinstance(sub, str) and sub:
        return sub
    arm_id = body.get("id")
    return (id_segment(arm_id, "subscriptions") or "") if isinstance(arm_id, str) else ""
