"""Fault injection for the ARM emulator: what goes wrong, where, and how often.

Every fault is a :class:`Rule` (which requests it hits and how many times) in one of the lists of
:class:`Faults`. Rules are checked in this order, the first that fires wins:

``forbidden_subscriptions`` → ``hang`` → ``drop`` → ``throttle`` → ``server_errors`` → (the request is
served) → ``malformed`` (only ever spoils a 200 answer).

Rules are deterministic: they fire on the first ``times`` matching requests (after skipping the first
``skip``), or, with ``probability < 1``, on a pseudo-random choice from ``random.Random(Faults.seed)``
(deterministic for a given request order). Each rule counts what it saw (``matched``) and what it did
(``fired``); :attr:`Faults.counts` sums the latter per fault type.

Examples::

    Faults(throttle=[Rule(path="/deployments", times=1, retry_after=1, method="GET")])
    Faults(server_errors=Rule(path="/queryResults", status=503, times=2))   # a single rule is fine
    Faults(drop=Rule(path="re:/accounts/[^/]+-dev/projects$"))               # "re:" → regex search
    Faults(malformed=Rule(path="accounts/contoso-foundry-exp/deployments", mode="truncated"))
    Faults(forbidden_subscriptions={"<sub id>"}, latency_ms=40, token_lifetime_s=0)

On the command line (``--throttle``, ``--server-error``, ``--drop``, ``--hang``, ``--malformed``) a rule is
written ``PATH[,key=value...]``, e.g. ``/deployments,times=2,retry_after=1,method=GET`` (:meth:`Rule.parse`).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

#: The fault types, in the order they are checked, as used in :attr:`Faults.counts`.
FAULT_TYPES = (
    "forbidden",
    "hang",
    "drop",
    "throttle",
    "server_errors",
    "malformed",
    "rate_limited",
    "expired_token",
    "latency",
)

MALFORMED_MODES = ("truncated", "invalid", "html", "empty")


@dataclass
class Rule:
    """Which requests a fault hits, and how it behaves.

    ``path`` is a case-insensitive substring of the decoded request path (``""`` matches every
    path), or a case-insensitive regular expression searched in it when it starts with ``"re:"``.
    """

    path: str = ""
    method: str | None = None  #: "GET", "POST", ... (any case); None: every method
    times: int | None = 1  #: how many matching requests it fires on; None: all of them
    skip: int = 0  #: let this many matching requests through first (e.g. fail only the 2nd page)
    probability: float = 1.0  #: < 1: fire on a seeded pseudo-random share of the matching requests
    status: int | None = None  #: throttle: 429 (default); server_errors: 500 (default), 502, 503, 504
    retry_after: float | None = None  #: seconds for a ``Retry-After`` header (int written without ".0")
    retry_after_ms: int | None = None  #: milliseconds for a ``retry-after-ms`` header
    hold_s: float = 60.0  #: hang: the longest the request is held before the connection is closed
    mode: str = "truncated"  #: malformed: truncated | invalid | html | empty
    matched: int = field(default=0, init=False, compare=False)  #: matching requests seen while active
    fired: int = field(default=0, init=False, compare=False)  #: times the fault was applied

    def __post_init__(self) -> None:
        if self.method is not None:
            self.method = self.method.upper()
        if self.mode not in MALFORMED_MODES:
            raise ValueError(f"malformed mode must be one of {', '.join(MALFORMED_MODES)}, not {self.mode!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], not {self.probability}")
        self._regex = re.compile(self.path[3:], re.IGNORECASE) if self.path.startswith("re:") else None
        self._needle = self.path.lower()

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and method.upper() != self.method:
            return False
        if self._regex is not None:
            return self._regex.search(path) is not None
        return self._needle in path.lower()

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``PATH[,key=value...]`` (keys: the fields above), e.g. ``/deployments,times=2,retry_after=1``."""
        path, *pairs = text.split(",")
        kwargs: dict[str, Any] = {"path": path.strip()}
        types = {f.name: f.type for f in fields(cls) if f.init}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in types or key == "path":
                raise ValueError(
                    f"bad rule item {pair!r} in {text!r} (use key=value with keys {', '.join(types)})"
                )
            if key in ("method", "mode"):
                kwargs[key] = value
            elif key in ("times", "status", "retry_after_ms"):
                kwargs[key] = None if value.lower() in ("none", "all", "") else int(value)
            elif key == "skip":
                kwargs[key] = int(value)
            else:  # probability, retry_after, hold_s
                kwargs[key] = None if value.lower() == "none" else float(value)
        return cls(**kwargs)


def _rules(value: Rule | Iterable[Rule] | None) -> list[Rule]:
    if value is None:
        return []
    if isinstance(value, Rule):
        return [value]
    out = list(value)
    for rule in out:
        if not isinstance(rule, Rule):
            raise TypeError(f"expected a Rule, got {type(rule).__name__}")
    return out


@dataclass
class Faults:
    """Everything that can go wrong, all optional. Safe to read from any thread."""

    latency_ms: float = 0.0  #: added to every request with ``await asyncio.sleep`` (requests overlap)
    jitter_ms: float = 0.0  #: plus a seeded uniform 0..jitter_ms
    throttle: list[Rule] = field(default_factory=list)  #: 429 (+ Retry-After / retry-after-ms if set)
    server_errors: list[Rule] = field(default_factory=list)  #: 500/502/503/504 with an ARM error body
    drop: list[Rule] = field(default_factory=list)  #: connection closed, no response at all
    hang: list[Rule] = field(default_factory=list)  #: no response until the client gives up (≤ hold_s)
    malformed: list[Rule] = field(default_factory=list)  #: a 200 whose body is not valid JSON
    forbidden_subscriptions: set[str] = field(default_factory=set)  #: every request under them → 403
    token_lifetime_s: float | None = None  #: caps the lifetime of ``mint_token`` tokens (0: born expired)
    #: Enforce ARM's per-(subscription, principal) read bucket: (capacity, refill per second), e.g.
    #: (250, 25). None: not enforced (the ``x-ms-ratelimit-remaining-subscription-reads`` header is
    #: still computed from a (250, 25) bucket).
    rate_limit: tuple[float, float] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        self.throttle = _rules(self.throttle)
        self.server_errors = _rules(self.server_errors)
        self.drop = _rules(self.drop)
        self.hang = _rules(self.hang)
        self.malformed = _rules(self.malformed)
        self.forbidden_subscriptions = {s.lower() for s in self.forbidden_subscriptions}
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    # ------------------------------------------------------------------------------ server side

    def pick(self, kind: str, method: str, path: str) -> Rule | None:
        """The rule of ``kind`` that fires on this request, if any (counts it)."""
        rules: list[Rule] = getattr(self, kind)
        if not rules:
            return None
        with self._lock:
            for rule in rules:
                if rule.exhausted or not rule.matches(method, path):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                self._counts[kind] += 1
                return rule
        return None

    def note(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def jitter(self) -> float:
        with self._lock:
            return self._rng.uniform(0.0, self.jitter_ms) if self.jitter_ms else 0.0

    # ------------------------------------------------------------------------------ test side

    @property
    def counts(self) -> dict[str, int]:
        """Faults applied so far, per type (see :data:`FAULT_TYPES`); types never applied are 0."""
        with self._lock:
            return {kind: self._counts.get(kind, 0) for kind in FAULT_TYPES}

    def all_rules(self) -> list[Rule]:
        return [*self.hang, *self.drop, *self.throttle, *self.server_errors, *self.malformed]
