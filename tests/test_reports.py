"""Reports in every format: the HTML page (self-contained, escaped, its tables matching the data),
CSV and JSON round trips, the xlsx workbook read back with the standard library, drift, scope, and
``fcdesk report`` on the command line."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from fcdesk.cli import REPORT_FORMATS, run
from fcdesk.core.demo import generate
from fcdesk.core.drift import KIND_ORDER, ChangeKind, diff_inventories
from fcdesk.core.guardrails import CATALOGUE
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.portal import PORTALS
from fcdesk.core.records import Kind, RawRecord, SnapshotMeta
from fcdesk.core.report import COUNT_KEYS, build_report, counts, subscription_counts
from fcdesk.core.report_html import CSP
from fcdesk.reports import FORMATS, export_report, render_report
from fcdesk.store.snapshot import sha256_of, write_snapshot

SCRIPT_NAME = "<script>alert(1)</script>"
FORMULA_NAME = '=HYPERLINK("https://evil.example","x")'
EVIL_LINK = "https://evil.example/steal"


# ------------------------------------------------------------------------------------- fixtures


def _records_with(records: list[RawRecord], kind: Kind, index: int, edit: Any) -> list[RawRecord]:
    """``records`` with the ``index``-th record of ``kind`` replaced by ``edit(deep copy of its body)``."""
    out, seen = [], 0
    for rec in records:
        if rec.kind == kind:
            if seen == index:
                body = copy.deepcopy(rec.body)
                edit(body)
                rec = replace(rec, body=body)
            seen += 1
        out.append(rec)
    return out


def _hostile_records() -> tuple[SnapshotMeta, list[RawRecord]]:
    """The demo tenant with names and links meant to break out: markup, a formula, a foreign link."""
    meta, records = generate()
    records = _records_with(records, Kind.DEPLOYMENT, 0, lambda b: b.update(name=SCRIPT_NAME))
    records = _records_with(records, Kind.DEPLOYMENT, 1, lambda b: b.update(name=FORMULA_NAME))
    records = _records_with(records, Kind.ALERT, 0, lambda b: b["properties"].update(alertUri=EVIL_LINK))
    return meta, records


def _loosened_records() -> tuple[SnapshotMeta, list[RawRecord]]:
    """The demo tenant a day later: the Hate (prompt) filter of its first guardrail turned off, its last
    deployment gone."""
    meta, records = generate()

    def loosen(body: dict[str, Any]) -> None:
        for flt in body["properties"]["contentFilters"]:
            if (flt["name"], flt["source"]) == ("Hate", "Prompt"):
                flt["enabled"] = False

    from datetime import timedelta

    later = replace(meta, captured_at=meta.captured_at + timedelta(days=1))
    last = [r.id for r in records if r.kind == Kind.DEPLOYMENT][-1]
    return later, [r for r in _records_with(records, Kind.RAI_POLICY, 0, loosen) if r.id != last]


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return Inventory.build(*generate())


@pytest.fixture(scope="module")
def hostile() -> Inventory:
    return Inventory.build(*_hostile_records())


@pytest.fixture(scope="module")
def newer() -> Inventory:
    return Inventory.build(*_loosened_records())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("snapshots")
    out = {"demo": folder / "demo.fcsnap", "newer": folder / "newer.fcsnap"}
    write_snapshot(out["demo"], *generate())
    write_snapshot(out["newer"], *_loosened_records())
    return out


# ------------------------------------------------------------------------------------ HTML reading


class Page(HTMLParser):
    """What a browser would see: every element with its attributes, and each table's cells as text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, dict[str, list[Any]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._cells: list[dict[str, str | None]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = {"header": [], "rows": [], "attrs": []}
        elif tag == "tr" and self._table is not None:
            self._row, self._cells = [], []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._cells.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            table = self.tables[self._table]
            if not table["header"] and not table["rows"] and self._cells and "data-v" not in self._cells[0]:
                table["header"] = self._row
            else:
                table["rows"].append(self._row)
                table["attrs"].append(self._cells)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id: str) -> list[list[str]]:
        return self.tables[table_id]["rows"]


def _page(inventory: Inventory, **options: Any) -> tuple[Page, str, dict[str, Any]]:
    text = render_report(inventory, "html", **options).decode("utf-8")
    against = options.get("against")
    drift = diff_inventories(against, inventory) if against is not None else None
    report = build_report(
        inventory, sha256=options.get("sha256", ""), scope=options.get("scope", ALL), drift=drift
    )
    return Page(text), text, report


# ------------------------------------------------------------------------------------------ HTML


def test_html_is_self_contained_and_links_only_into_the_portal(hostile: Inventory) -> None:
    page, text, report = _page(hostile, sha256="ab" * 32)
    assert text.startswith("<!DOCTYPE html>")
    metas = [
        a for tag, a in page.elements if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert [m["content"] for m in metas] == [CSP]
    assert "default-src 'none'" in CSP
    assert not [a for _tag, a in page.elements if "src" in a], "nothing may be loaded"
    assert not [tag for tag, _a in page.elements if tag in ("link", "img", "iframe", "object", "embed")]
    external = [
        (tag, a["href"]) for tag, a in page.elements if re.match(r"(?i)\s*https?:", a.get("href") or "")
    ]
    assert external, "the demo's recommendations and alerts link into the portal"
    assert all(tag == "a" and href.startswith(PORTALS["public"] + "/") for tag, href in external)
    assert EVIL_LINK not in text
    hits = [a for a in report["alerts"] if a["id"] == hostile.alerts[0].id]
    assert hits and hits[0]["portal"].startswith(PORTALS["public"] + "/#@")  # fell back to the resource page
    assert "@import" not in text and "url(" not in text
    assert text.count("<script>") == 1  # ours, inline


def test_html_escapes_every_name_from_azure(hostile: Inventory) -> None:
    page, text, report = _page(hostile)
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    names = [row[0] for row in page.rows("t-matrix")]
    assert SCRIPT_NAME in names and FORMULA_NAME in names
    assert sum(1 for tag, _a in page.elements if tag == "script") == 1
    # The demo's own hostile names (policy and project names with "&" and "<…>") show as text too.
    policy_names = [row[0] for row in page.rows("t-policies")]
    assert "Research sandbox & red team <minimum controls>" in policy_names
    assert [p["name"] for p in report["policies"]] == policy_names


def test_html_tables_match_the_report(demo: Inventory) -> None:
    page, text, report = _page(demo, sha256="cd" * 32)
    assert "cd" * 32 in text and "2026-11-20 09:30 UTC" in text and "All subscriptions (3)" in text
    matrix = page.tables["t-matrix"]
    assert len(matrix["header"]) == 8 + len(CATALOGUE)
    assert len(matrix["rows"]) == report["counts"]["deployments"] == len(demo.deployments)
    names = {s["id"].lower(): s["name"] for s in report["subscriptions"]}
    for row, entry in zip(matrix["rows"], report["matrix"], strict=True):
        expected = [names[entry["subscription"].lower()], entry["resource_group"], entry["account"]]
        expected += [entry["model"], entry["guardrail"], entry["mode"], "Yes" if entry["gap"] else "No"]
        assert row[0] == entry["name"] and row[1:8] == expected
        assert row[8:] == [entry["cells"][f"{c.name}/{c.source}"] for c in CATALOGUE]
    words = {cell for row in matrix["rows"] for cell in row[8:]}
    assert {"Blocks ≥ Medium", "Blocks ≥ Low", "Off", "Annotate only", "Not set"} <= words
    assert not words & {"Low", "Medium", "High"}, "a severity word alone would read backwards"
    # colour is a second cue: cells with the same text share the class, different states differ
    classes = {
        row[8 + i]: (attrs[8 + i]["class"] or "").split()[0]
        for row, attrs in zip(matrix["rows"], matrix["attrs"], strict=True)
        for i in range(len(CATALOGUE))
    }
    assert classes["Off"] != classes["Blocks ≥ Medium"] != classes["Not set"]
    policies = page.rows("t-policies")
    assert [(r[0], r[2].split(" (")[0], int(r[3]), int(r[4])) for r in policies] == [
        (p["name"], p["status"], p["violating"], p["total"]) for p in report["policies"]
    ]
    pending = [r for r in policies if r[2].startswith("Pending evaluation")]
    assert pending and all(
        r[2] == f"Pending evaluation ({r[3]} violating by fcdesk's local check)" for r in pending if int(r[3])
    )
    # a cell against the raw data: the demo's red-team guardrail turns hate filtering off
    raw = next(d for d in demo.deployments if d.rai_policy_name == "RedTeam-Unfiltered")
    row = next(r for r in matrix["rows"] if r[0] == raw.name and r[3] == raw.account_name)
    assert row[5] == "RedTeam-Unfiltered" and row[8] == "Off"
    assert [r[0] for r in page.rows("t-subscriptions")] == [s["name"] for s in report["subscriptions"]]
    assert len(page.rows("t-recommendations")) == report["counts"]["recommendations"] > 0
    assert [r[0] for r in page.rows("t-recommendations")] == [r["name"] for r in report["recommendations"]]
    alerts = page.rows("t-alerts")
    assert len(alerts) == report["counts"]["alerts"] > 0
    assert any(r[2].startswith("[Jailbreak] ") for r in alerts)
    plans = page.rows("t-plans")
    assert [r[0] for r in plans] == [p["subscription"] for p in report["plans"]] and len(plans) == 3
    assert {r[2] for r in plans} == {"Standard", "Free"}
    assert "t-drift" not in page.tables


def test_html_is_sortable_and_printable(demo: Inventory) -> None:
    page, text, _report = _page(demo)
    sortable = [a for tag, a in page.elements if tag == "table" and "sortable" in (a.get("class") or "")]
    assert len(sortable) == 6
    assert 'addEventListener("click"' in text and "aria-sort" in text
    assert "@media print" in text and "table-header-group" in text
    # control columns sort by strictness, not alphabetically
    first = page.tables["t-matrix"]["attrs"][0]
    assert all(a.get("data-v") is not None and a["data-v"].isdigit() for a in first[8:])


def test_html_for_a_custom_cloud_has_no_external_link() -> None:
    meta, records = generate()
    page, _text, report = _page(Inventory.build(replace(meta, cloud="custom"), records))
    assert not [a for _tag, a in page.elements if re.match(r"(?i)\s*https?:", a.get("href") or "")]
    assert all(not r["portal"] for r in report["recommendations"] + report["alerts"] + report["plans"])


def test_html_drift_lists_loosenings_first(demo: Inventory, newer: Inventory) -> None:
    page, _text, report = _page(newer, against=demo)
    drift = diff_inventories(demo, newer)
    assert drift.loosened
    rows = page.rows("t-drift")
    assert len(rows) == len(drift.changes) == len(report["drift"]["changes"])
    assert [r[0] for r in rows] == [str(c.kind) for c in drift.ordered()]
    kinds = [ChangeKind(r[0]) for r in rows]
    assert {ChangeKind.LOOSENED, ChangeKind.REMOVED} <= set(kinds)
    assert [KIND_ORDER[k] for k in kinds] == sorted(KIND_ORDER[k] for k in kinds), "loosenings first"
    assert rows[0][3] == "Hate (prompt)"
    assert report["drift"]["loosened"] is True and report["drift"]["counts"]["loosened"] >= 1


# ---------------------------------------------------------------------------------- JSON and CSV


def test_json_round_trip(demo: Inventory, newer: Inventory, files: dict[str, Path]) -> None:
    data = render_report(newer, "json", snapshot_path=files["newer"], against=demo)
    report = json.loads(data)
    drift = diff_inventories(demo, newer)
    expected = build_report(newer, path=str(files["newer"]), sha256=sha256_of(files["newer"]), drift=drift)
    assert report == expected
    assert report["drift"]["changes"] == [c.to_json() for c in drift.ordered()]
    assert report["snapshot"]["sha256"] == sha256_of(files["newer"])
    assert list(report)[:6] == ["report_version", "snapshot", "counts", "subscriptions", "policies", "matrix"]
    assert json.loads(render_report(demo, "json"))["drift"] is None


def _sections(text: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    name = ""
    for row in csv.reader(io.StringIO(text)):
        if row and row[0].startswith("# ") and len(row) == 1:
            name = row[0][2:]
            out[name] = []
        elif row:
            out[name].append(row)
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def test_csv_round_trip(demo: Inventory, newer: Inventory) -> None:
    drift = diff_inventories(demo, newer)
    report = build_report(newer, sha256="ef" * 32, drift=drift)
    sections = _sections(render_report(newer, "csv", sha256="ef" * 32, against=demo).decode("utf-8"))
    assert list(sections) == [
        "snapshot", "counts", "policies", "matrix", "recommendations", "alerts", "plans", "drift",
    ]  # fmt: skip
    snap = report["snapshot"]
    assert sections["snapshot"][1] == [
        snap["captured_at"], snap["source"], snap["tenant_name"], snap["cloud"], "False", snap["sha256"],
    ]  # fmt: skip
    keys = [k for k in COUNT_KEYS if k != "subscriptions"]
    assert sections["counts"][1:] == [
        [s["id"], s["name"], *[str(s[k]) for k in keys]] for s in report["subscriptions"]
    ] + [["", "(total)", *[str(report["counts"][k]) for k in keys]]]
    header, *rows = sections["policies"]
    assert [dict(zip(header, r, strict=True)) for r in rows] == [
        {"policy_id": p["id"], "policy": p["name"], "scope": p["scope"], "status": p["status"],
         "violating": str(p["violating"]), "total": str(p["total"]), "excepted": str(len(p["excepted"])),
         "as_of": _text(p["as_of"])}
        for p in report["policies"]
    ]  # fmt: skip
    header, *rows = sections["matrix"]
    assert len(rows) == len(report["matrix"])
    for row, entry in zip(rows, report["matrix"], strict=True):
        got = dict(zip(header, row, strict=True))
        assert (got["deployment_id"], got["deployment"], got["guardrail"], got["gap"]) == (
            entry["id"], entry["name"], entry["guardrail"], str(entry["gap"]),
        )  # fmt: skip
        assert {k: got[k] for k in entry["cells"]} == entry["cells"]
    header, *rows = sections["recommendations"]
    assert [(r[0], r[1], r[4], r[5], r[8]) for r in rows] == [
        (r["id"], r["name"], r["severity"], r["status"], r["portal"]) for r in report["recommendations"]
    ]
    header, *rows = sections["alerts"]
    got_alerts = [dict(zip(header, r, strict=True)) for r in rows]
    assert [(a["alert_id"], a["alert"], a["time"], a["resource_ids"].split(";")) for a in got_alerts] == [
        (a["id"], a["name"], a["time"], a["resource_ids"]) for a in report["alerts"]
    ]
    header, *rows = sections["plans"]
    assert [dict(zip(header, r, strict=True)) for r in rows] == [
        {
            "subscription_id": p["subscription_id"],
            "subscription": p["subscription"],
            "defender_for_cloud": str(p["defender_for_cloud"]),
            "plan": p["plan"],
            "ai_protection": str(p["ai_protection"]),
            "prompt_evidence": _text(p["prompt_evidence"]),
            "purview": str(p["purview"]),
            "accounts_on": str(p["accounts_on"]),
            "accounts": str(len(p["accounts"])),
        }
        for p in report["plans"]
    ]
    header, *rows = sections["drift"]
    fields = ("kind", "target", "id", "name", "control", "before", "after", "detail")
    assert [dict(zip(header, r, strict=True)) for r in rows] == [
        {**{f: _text(c[f]) for f in fields}, "subscription_id": c["subscriptionId"]}
        for c in report["drift"]["changes"]
    ]


# ------------------------------------------------------------------------------------------- xlsx

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class Workbook:
    """An xlsx file read with zipfile and ElementTree: sheets, cells (value, type, style), panes."""

    def __init__(self, data: bytes) -> None:
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        strings = ElementTree.fromstring(self.zip.read("xl/sharedStrings.xml"))
        self.strings = ["".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")) for si in strings]
        book = ElementTree.fromstring(self.zip.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(self.zip.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels}
        self.sheets = {
            s.get("name"): "xl/" + targets[s.get(_REL)] for s in book.iterfind("m:sheets/m:sheet", _NS)
        }
        styles = ElementTree.fromstring(self.zip.read("xl/styles.xml"))
        fonts = styles.findall("m:fonts/m:font", _NS)
        self.bold_styles = {
            i for i, xf in enumerate(styles.findall("m:cellXfs/m:xf", _NS))
            if fonts[int(xf.get("fontId", "0"))].find("m:b", _NS) is not None
        }  # fmt: skip

    def xml(self, sheet: str) -> ElementTree.Element:
        return ElementTree.fromstring(self.zip.read(self.sheets[sheet]))

    def cells(self, sheet: str) -> Iterator[tuple[int, int, str, str | None, int]]:
        """(row, column, value, type, style) of every cell, in order."""
        for row in self.xml(sheet).iterfind("m:sheetData/m:row", _NS):
            for c in row.iterfind("m:c", _NS):
                ref = c.get("r") or ""
                letters = re.match(r"[A-Z]+", ref).group(0)  # type: ignore[union-attr]
                col = 0
                for ch in letters:
                    col = col * 26 + ord(ch) - 64
                v = c.find("m:v", _NS)
                value = v.text or "" if v is not None else ""
                if c.get("t") == "s":
                    value = self.strings[int(value)]
                yield int(row.get("r") or 0), col - 1, value, c.get("t"), int(c.get("s", "0"))

    def table(self, sheet: str) -> list[list[str]]:
        rows: dict[int, dict[int, str]] = {}
        for r, col, value, _t, _s in self.cells(sheet):
            rows.setdefault(r, {})[col] = value
        width = max(max(cols) for cols in rows.values()) + 1
        return [[rows[r].get(c, "") for c in range(width)] for r in sorted(rows)]


def test_xlsx_sheets_cells_and_layout(hostile: Inventory) -> None:
    data = render_report(hostile, "xlsx")
    book = Workbook(data)
    report = build_report(hostile)
    assert list(book.sheets) == [
        "Summary", "Subscriptions", "Policies", "Matrix", "Recommendations", "Alerts", "Plans",
    ]  # fmt: skip
    header, *rows = book.table("Matrix")
    assert header[:2] == ["Deployment id", "Deployment"] and header[9:] == [c.label for c in CATALOGUE]
    assert len(rows) == len(report["matrix"])
    for row, entry in zip(rows, report["matrix"], strict=True):
        assert row[:8] == [
            entry["id"], entry["name"], entry["subscription"], entry["resource_group"], entry["account"],
            entry["model"], entry["guardrail"], entry["mode"],
        ]  # fmt: skip
        assert row[9:] == [entry["cells"][f"{c.name}/{c.source}"] for c in CATALOGUE]
    # A name that looks like a formula stays a string; no cell anywhere holds a formula.
    formula_cells = [(t, v) for _r, col, v, t, _s in book.cells("Matrix") if col == 1 and v == FORMULA_NAME]
    assert formula_cells == [("s", FORMULA_NAME)]
    for sheet in book.sheets:
        assert book.xml(sheet).find(".//m:f", _NS) is None
    for sheet in book.sheets:
        xml = book.xml(sheet)
        pane = xml.find("m:sheetViews/m:sheetView/m:pane", _NS)
        assert pane is not None and pane.get("state") == "frozen" and pane.get("ySplit") == "1"
        n_rows = max(r for r, *_ in book.cells(sheet))
        n_cols = len(book.table(sheet)[0])
        last = chr(64 + n_cols) if n_cols <= 26 else "A" + chr(64 + n_cols - 26)
        assert xml.find("m:autoFilter", _NS).get("ref") == f"A1:{last}{n_rows}"  # type: ignore[union-attr]
        assert {s for r, _c, _v, _t, s in book.cells(sheet) if r == 1} <= book.bold_styles
        assert not {s for r, _c, _v, _t, s in book.cells(sheet) if r > 1} & book.bold_styles
        widths = [float(c.get("width", "0")) for c in xml.iterfind("m:cols/m:col", _NS)]
        assert widths and all(8 <= w <= 61 for w in widths)
    # counts are numbers, flags booleans
    policies = list(book.cells("Policies"))
    assert {t for r, col, _v, t, _s in policies if r > 1 and col == 4} == {None}  # "Violating": a number
    assert [int(v) for r, col, v, _t, _s in policies if r > 1 and col == 4] == [
        p["violating"] for p in report["policies"]
    ]
    gaps = [(t, v) for r, col, v, t, _s in book.cells("Matrix") if r > 1 and col == 8]
    assert {t for t, _v in gaps} == {"b"} and [v == "1" for _t, v in gaps] == [
        m["gap"] for m in report["matrix"]
    ]
    summary = dict(book.table("Summary")[1:])  # type: ignore[arg-type]
    assert summary["Deployments"] == str(report["counts"]["deployments"])
    assert summary["Tenant"] == report["snapshot"]["tenant_name"]


def test_xlsx_drift_sheet(demo: Inventory, newer: Inventory) -> None:
    book = Workbook(render_report(newer, "xlsx", against=demo))
    assert list(book.sheets)[-1] == "Drift"
    header, *rows = book.table("Drift")
    changes = [c.to_json() for c in diff_inventories(demo, newer).ordered()]
    assert header[0] == "Change" and [r[0] for r in rows] == [c["kind"] for c in changes]
    assert [r[3] for r in rows] == [c["name"] for c in changes]


# ------------------------------------------------------------------------------- export, scope


def test_export_writes_every_format_atomically(
    demo: Inventory, files: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    for fmt in FORMATS:
        target = folder / f"report.{fmt}"
        assert export_report(demo, target, fmt, snapshot_path=files["demo"]) == target
        assert target.read_bytes() == render_report(demo, fmt, snapshot_path=files["demo"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"report.{f}" for f in FORMATS)
    assert json.loads((folder / "report.json").read_text())["snapshot"]["sha256"] == sha256_of(files["demo"])
    before = (folder / "report.html").read_bytes()
    with pytest.raises(ValueError, match="unknown report format"):
        export_report(demo, folder / "report.html", "pdf")
    assert (folder / "report.html").read_bytes() == before
    with pytest.raises(OSError):
        export_report(demo, folder / "missing" / "report.html", "html")
    assert REPORT_FORMATS == FORMATS


def test_scoped_report(demo: Inventory, newer: Inventory) -> None:
    prod = next(s for s in demo.subscriptions.values() if s.display_name == "Contoso AI Production")
    scope = Scope(frozenset({prod.subscription_id}))
    page, text, report = _page(newer, scope=scope, against=demo)
    rows = page.rows("t-matrix")
    assert len(rows) == len(newer.scoped_deployments(scope)) < len(newer.deployments)
    assert {r[1] for r in rows} == {"Contoso AI Production"}
    assert "Contoso AI Production (" in report["scope"]["text"] and report["scope"]["text"] in text
    assert report["scope"]["subscriptions"] == [prod.subscription_id.lower()]
    assert [p["subscription"] for p in report["plans"]] == ["Contoso AI Production"]
    changes = report["drift"]["changes"]
    assert all(c["subscriptionId"].lower() in ("", prod.subscription_id.lower()) for c in changes)
    assert len(changes) <= len(diff_inventories(demo, newer).changes)


def test_subscription_counts_match_counts_per_subscription() -> None:
    inv = Inventory.build(*generate(scale=2))
    fast = subscription_counts(inv)
    assert len(fast) == 6
    for sub in inv.subscriptions.values():
        assert fast[sub.subscription_id.lower()] == counts(inv, Scope(frozenset({sub.subscription_id})))


# ----------------------------------------------------------------------------------------- CLI


def test_cli_report_formats(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["report", str(files["demo"]), "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!DOCTYPE html>") and sha256_of(files["demo"]) in out
    assert run(["report", str(files["demo"]), "--format", "xlsx"]) == 2
    assert "--format xlsx needs --out FILE" in capsys.readouterr().err
    target = tmp_path / "r.xlsx"
    assert run(["report", str(files["demo"]), "--format", "xlsx", "--out", str(target)]) == 0
    assert "Matrix" in Workbook(target.read_bytes()).sheets
    assert (
        run(["report", str(files["demo"]), "--format", "html", "--out", str(tmp_path / "no" / "r.html")]) == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("fcdesk: could not write") and err.count("\n") == 1


def test_cli_report_against(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["report", str(files["newer"]), "--against", str(files["demo"]), "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert captured.err == ""
    assert report["drift"]["older"]["captured_at"] == "2026-11-20T09:30:00Z"
    assert report["drift"]["changes"][0]["kind"] == "loosened"
    # given the wrong way round, the drift tightens and a note says the order looks odd
    assert run(["report", str(files["demo"]), "--against", str(files["newer"]), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "was captured after" in captured.err
    drift_rows = _sections(captured.out)["drift"][1:]
    assert drift_rows and drift_rows[0][0] != "loosened" and "tightened" in {r[0] for r in drift_rows}


def test_cli_report_unreadable_against(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.fcsnap"
    broken.write_bytes(b"not a snapshot")
    assert run(["report", str(files["demo"]), "--against", str(broken)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "broken.fcsnap" in captured.err and captured.err.count("\n") == 1
