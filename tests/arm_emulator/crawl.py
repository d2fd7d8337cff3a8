"""A minimal reference capture over raw HTTP (aiohttp): every endpoint fcdesk reads, every page.

It exists to prove the emulator round-trips (scenario → served JSON → the same records) and as a
baseline for benchmarks; it is not fcdesk's capture. Record scopes follow the demo's convention:
the subscription (``/subscriptions/{id}``) for what is listed per subscription, the account id for an
account's children, ``""`` for tenant-level records.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from fcdesk.core.normalize import POLICY_STATE_FIELDS, policy_state_key
from fcdesk.core.policy import INITIATIVE_ID
from fcdesk.core.records import Kind, RawRecord

API = {
    "subscriptions": "2022-12-01",
    "resources": "2025-04-01",
    "cognitive": "2025-09-01",
    "policy": "2023-04-01",
    "insights": "2019-10-01",
    "assessments": "2021-06-01",
    "alerts": "2022-01-01",
    "pricings": "2024-01-01",
}
_CHILDREN = (
    ("projects", Kind.PROJECT),
    ("deployments", Kind.DEPLOYMENT),
    ("raiPolicies", Kind.RAI_POLICY),
    ("defenderForAISettings", Kind.DEFENDER_AI_SETTING),
)


class CrawlError(RuntimeError):
    def __init__(self, status: int, url: str, body: bytes) -> None:
        super().__init__(f"{status} for {url}: {body[:300]!r}")
        self.status = status
        self.url = url
        self.body = body


class Crawler:
    def __init__(self, url: str, ca_file: str, token: str, *, concurrency: int = 64) -> None:
        self.base = url.rstrip("/")
        self.ssl = ssl.create_default_context(cafile=ca_file)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sem = asyncio.Semaphore(concurrency)
        self.requests = 0
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Crawler:
        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=0)
        self.session = aiohttp.ClientSession(connector=connector, headers=self.headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def call(self, method: str, url: str) -> dict[str, Any]:
        assert self.session is not None
        async with self.sem:
            self.requests += 1
            async with self.session.request(method, url) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise CrawlError(resp.status, url, body)
                return orjson.loads(body)

    async def pages(
        self, path: str, api: str, *, method: str = "GET", extra: str = ""
    ) -> list[dict[str, Any]]:
        url: str | None = f"{self.base}{path}?api-version={api}{extra}"
        items: list[dict[str, Any]] = []
        while url:
            page = await self.call(method, url)
            items.extend(page.get("value") or [])
            url = page.get("nextLink") or page.get("@odata.nextLink")
        return items

    async def get(self, path: str, api: str) -> dict[str, Any]:
        return await self.call("GET", f"{self.base}{path}?api-version={api}")


async def crawl(url: str, ca_file: str, token: str, *, concurrency: int = 64) -> tuple[list[RawRecord], int]:
    """Every record the emulator serves to a full capture, and the number of requests it took."""
    out: list[RawRecord] = []
    async with Crawler(url, ca_file, token, concurrency=concurrency) as c:
        subs = await c.pages("/subscriptions", API["subscriptions"])
        out += [RawRecord(Kind.SUBSCRIPTION, s["id"], s, "") for s in subs]
        metadata = await c.pages("/providers/Microsoft.Security/assessmentMetadata", API["assessments"])
        out += [RawRecord(Kind.ASSESSMENT_METADATA, m["id"], m, "") for m in metadata]
        initiative_needed = False

        async def one_sub(sub: dict[str, Any]) -> list[RawRecord]:
            nonlocal initiative_needed
            scope = f"/subscriptions/{sub['subscriptionId']}"
            recs: list[RawRecord] = []
            flt = quote(f"policySetDefinitionId eq '{INITIATIVE_ID}'", safe="")
            select = quote(",".join(POLICY_STATE_FIELDS), safe="")
            (rgs, accounts, assignments, states, assessments, alerts) = await asyncio.gather(
                c.pages(f"{scope}/resourcegroups", API["resources"]),
                c.pages(f"{scope}/providers/Microsoft.CognitiveServices/accounts", API["cognitive"]),
                c.pages(f"{scope}/providers/Microsoft.Authorization/policyAssignments", API["policy"]),
                c.pages(
                    f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
                    API["insights"],
                    method="POST",
                    extra=f"&$filter={flt}&$select={select}",
                ),
                c.pages(f"{scope}/providers/Microsoft.Security/assessments", API["assessments"]),
                c.pages(f"{scope}/providers/Microsoft.Security/alerts", API["alerts"]),
            )
            pricings = (
                await c.call(
                    "GET",
                    f"{c.base}{scope}/providers/Microsoft.Security/pricings?api-version={API['pricings']}",
                )
            )["value"]
            recs += [RawRecord(Kind.RESOURCE_GROUP, r["id"], r, scope) for r in rgs]
            recs += [RawRecord(Kind.ACCOUNT, a["id"], a, scope) for a in accounts]
            recs += [RawRecord(Kind.POLICY_ASSIGNMENT, a["id"], a, scope) for a in assignments]
            if any(
                str(a.get("properties", {}).get("policyDefinitionId", "")).lower() == INITIATIVE_ID.lower()
                for a in assignments
            ):
                initiative_needed = True
            recs += [RawRecord(Kind.POLICY_STATE, policy_state_key(s), s, scope) for s in states]
            recs += [RawRecord(Kind.ASSESSMENT, a["id"], a, scope) for a in assessments]
            recs += [RawRecord(Kind.ALERT, a["id"], a, scope) for a in alerts]
            recs += [RawRecord(Kind.PRICING, p["id"], p, scope) for p in pricings]

            async def one_account(acct: dict[str, Any]) -> list[RawRecord]:
                lists = await asyncio.gather(
                    *(c.pages(f"{acct['id']}/{coll}", API["cognitive"]) for coll, _ in _CHILDREN)
                )
                return [
                    RawRecord(kind, item["id"], item, acct["id"])
                    for (_, kind), items in zip(_CHILDREN, lists, strict=True)
                    for item in items
                ]

            for part in await asyncio.gather(*(one_account(a) for a in accounts)):
                recs += part
            return recs

        for part in await asyncio.gather(*(one_sub(s) for s in subs)):
            out += part
        if initiative_needed:
            body = await c.get(INITIATIVE_ID, API["policy"])
            out.append(RawRecord(Kind.POLICY_SET_DEFINITION, body["id"], body, ""))
        return out, c.requests


def canonical(records: list[RawRecord]) -> list[tuple[str, str, str, bytes]]:
    """Records as a sorted list of (kind, id, scope, body bytes) for exact comparisons."""
    return sorted((str(r.kind), r.id, r.scope, orjson.dumps(r.body)) for r in records)
