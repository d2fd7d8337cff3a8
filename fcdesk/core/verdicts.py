"""Azure's policy states folded into one verdict per (resource, assignment).

A large tenant has several policy-state records per deployment (a summary plus one per failing
reference); the views only need the folded verdict. :class:`VerdictFolder` does the folding for the
inventory, and the snapshot writer stores its rows beside the raw records so that opening a large
snapshot can skip the raw states (they stay in the file for re-derivation). Bump
:data:`VERDICTS_VERSION` whenever the folding changes: stored rows of another version are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fcdesk.core import normalize as nz
from fcdesk.core.model import ComplianceRecord, ComplianceState, idkey

VERDICTS_VERSION = 1


@dataclass(frozen=True, slots=True)
class AzureVerdict:
    """Azure's verdict for one (deployment, assignment), aggregated over the references."""

    compliant: bool
    as_of: datetime | None
    failed_references: frozenset[str]
    raw_states: frozenset[str]


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """One folded verdict with its keys, as stored in a snapshot."""

    resource_key: str  #: idkey of the resource id
    assignment_key: str  #: idkey of the policy assignment id
    verdict: AzureVerdict
    records: int  #: how many raw state records were folded into it


class _Fold:
    __slots__ = ("non_compliant", "failed", "as_of", "raw_states", "records")

    def __init__(self) -> None:
        self.non_compliant = False
        self.failed: set[str] = set()
        self.as_of: datetime | None = None
        self.raw_states: set[str] = set()
        self.records = 0

    def add(self, st: ComplianceRecord) -> None:
        self.records += 1
        if st.state is ComplianceState.NON_COMPLIANT:
            # A summary record (no reference id) carries the verdict of the whole assignment.
            self.non_compliant = True
            if st.reference_id:
                self.failed.add(st.reference_id)
        if st.timestamp is not None and (self.as_of is None or st.timestamp > self.as_of):
            self.as_of = st.timestamp
        self.raw_states.add(st.raw_state)


class VerdictFolder:
    """Folds policy-state records as they stream in."""

    def __init__(self) -> None:
        self._folds: dict[tuple[str, str], _Fold] = {}
        self.records = 0

    def add(self, st: ComplianceRecord) -> None:
        key = (idkey(st.resource_id), idkey(st.assignment_id))
        fold = self._folds.get(key)
        if fold is None:
            fold = self._folds[key] = _Fold()
        fold.add(st)
        self.records += 1

    def add_body(self, body: Mapping[str, Any]) -> None:
        """Fold one raw record body (raises ``normalize.MalformedPayload`` if it is not one)."""
        self.add(nz.policy_state(body))

    def rows(self) -> list[VerdictRow]:
        return [
            VerdictRow(rk, ak, AzureVerdict(not f.non_compliant, f.as_of, frozenset(f.failed), frozenset(f.raw_states)), f.records)
            for (rk, ak), f in self._folds.items()
        ]

    def __len__(self) -> int:
        return len(self._folds)


def latest_by_assignment(rows: Iterable[VerdictRow]) -> dict[str, datetime | None]:
    """Per assignment key: the newest evaluation time (None when no record had one)."""
    out: dict[str, datetime | None] = {}
    for row in rows:
        prev = out.get(row.assignment_key)
        when = row.verdict.as_of
        if row.assignment_key not in out or (when is not None and (prev is None or when > prev)):
            out[row.assignment_key] = when if when is not None else prev
    return out
