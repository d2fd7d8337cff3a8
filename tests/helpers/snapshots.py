"""Builders for snapshot metadata and raw records used by the store tests (and anyone else)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

from fcdesk.core.records import Kind, RawRecord, ScopeError, SnapshotMeta, Source

SUB_A = "/subscriptions/00000000-0000-0000-0000-00000000000a"
SUB_B = "/subscriptions/00000000-0000-0000-0000-00000000000b"
ACCOUNT = f"{SUB_A}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/acct-zürich"


def make_meta(**overrides: object) -> SnapshotMeta:
    """A meta with every field set to a non-default value (override any of them)."""
    values: dict[str, object] = {
        # +02:00 and microseconds on purpose: the file keeps the instant, normalised to UTC.
        "captured_at": datetime(2026, 11, 26, 4, 45, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        "source": Source.LIVE,
        "tenant_id": "11111111-2222-3333-4444-555555555555",
        "tenant_name": "Contoso <b>Zürich</b> & Co ✓",
        "cloud": "usgov",
        "scopes": [SUB_A, SUB_B],
        "partial": True,
        "label": "before the audit — 日本語 🚀",
        "errors": [
            ScopeError(scope=SUB_B, message="Access denied to <subscription> B", code="AuthorizationFailed"),
            ScopeError(scope="", message="Timed out after 30 s", code="Timeout"),
        ],
    }
    values.update(overrides)
    return SnapshotMeta(**values)  # type: ignore[arg-type]


def make_records() -> list[RawRecord]:
    """A small, varied set: unicode, HTML-like names, nested JSON of every type."""
    return [
        RawRecord(Kind.SUBSCRIPTION, SUB_A, {"subscriptionId": SUB_A[-36:], "displayName": "Prod ✓"}, ""),
        RawRecord(
            Kind.ACCOUNT,
            ACCOUNT,
            {
                "id": ACCOUNT,
                "name": "<b>x</b>",
                "kind": "AIServices",
                "tags": {"owner": "Zoë \"quotes\" 'single' \\ backslash", "emoji": "🚀"},
                "properties": {"disableLocalAuth": True, "publicNetworkAccess": None, "n": 2**53, "f": 0.1},
                "list": [1, "two", [3], {"four": 4}, False],
            },
            SUB_A,
        ),
        RawRecord(
            Kind.DEPLOYMENT,
            f"{ACCOUNT}/deployments/gpt-4o",
            {"name": "gpt-4o", "properties": {"raiPolicyName": "Microsoft.DefaultV2"}},
            ACCOUNT,
        ),
        RawRecord(Kind.POLICY_STATE, "policy-state:0001", {}, SUB_A),
        # A kind that a future fcdesk might write: must survive as a plain str.
        RawRecord("future_kind", "future:1", {"anything": ["goes"]}, SUB_B),  # type: ignore[arg-type]
    ]


def many_records(count: int, body_size: int = 600) -> Iterator[RawRecord]:
    """``count`` deployment-like records of roughly ``body_size`` bytes of JSON each."""
    kinds = (Kind.DEPLOYMENT, Kind.POLICY_STATE, Kind.ASSESSMENT, Kind.RAI_POLICY)
    filler = "x" * max(0, body_size - 252)
    for index in range(count):
        kind = kinds[index % len(kinds)]
        subscription = f"/subscriptions/{index % 50:08d}-0000-0000-0000-000000000000"
        record_id = (
            f"{subscription}/resourceGroups/rg-{index % 300}/providers/Microsoft.CognitiveServices"
            f"/accounts/acct-{index // 4 % 5000}/{kind}/item-{index}"
        )
        body = {
            "id": record_id,
            "name": f"item-{index}",
            "properties": {"model": {"format": "OpenAI", "name": "gpt-4o"}, "capacity": index % 1000},
            "filler": filler,
        }
        yield RawRecord(kind, record_id, body, subscription)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
