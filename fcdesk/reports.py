"""Reports of an inventory, in every format, to a file: what ``fcdesk report`` and File → Export write.

One report, four renderings of the same data (:func:`fcdesk.core.report.build_report`):

* ``json``: the stable JSON document (README, "`report` output (stable)");
* ``csv``: the same tables as sections of one CSV file (:func:`fcdesk.core.report.report_csv`);
* ``html``: one self-contained page, sortable and printable (:mod:`fcdesk.core.report_html`);
* ``xlsx``: one sheet per table (Summary, Subscriptions, Policies, Matrix, Recommendations, Alerts,
  Plans, and Drift when compared with an older snapshot): header row bold and frozen, autofilter,
  widths fitted to the contents. Every text is written as a string (``write_string``), so a name
  starting with ``=`` stays text and no formula is ever evaluated; counts are numbers and flags
  booleans.

``against``: an older inventory of the same tenant; the report then carries the drift from it to this
one (:func:`fcdesk.core.drift.diff_inventories`), loosenings first.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from fcdesk.core.drift import diff_inventories
from fcdesk.core.gcpause import paused_gc
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.report import COUNT_KEYS, build_report, csv_value, report_csv, report_tables
from fcdesk.core.report_html import render_html
from fcdesk.store.snapshot import sha256_of

FORMATS = ("html", "csv", "json", "xlsx")

#: Column widths of the xlsx sheets, in characters: fitted to the header and the first rows.
_MIN_WIDTH, _MAX_WIDTH, _WIDTH_SAMPLE = 8, 60, 500


def export_report(
    inventory: Inventory,
    path: os.PathLike[str] | str,
    fmt: str,
    *,
    snapshot_path: os.PathLike[str] | str | None = None,
    sha256: str = "",
    against: Inventory | None = None,
    scope: Scope = ALL,
) -> Path:
    """Write the report of ``inventory`` within ``scope`` to ``path`` in ``fmt`` (one of :data:`FORMATS`).

    ``snapshot_path``/``sha256`` name the snapshot the inventory was read from (the SHA-256 is computed
    from the file when not given; it is left empty if the file cannot be read). ``against``: an older
    inventory of the same tenant, whose drift to this one the report includes.

    The file is written atomically (a temp file in the same folder, then renamed): a failure leaves
    what was at ``path`` before. Blocking: call it on a worker thread in the GUI. Raises
    ``ValueError`` for an unknown format and ``OSError`` when the file cannot be written.
    """
    data = render_report(
        inventory, fmt, snapshot_path=snapshot_path, sha256=sha256, against=against, scope=scope
    )
    target = Path(path)
    _write_atomically(target, data)
    return target


def render_report(
    inventory: Inventory,
    fmt: str,
    *,
    snapshot_path: os.PathLike[str] | str | None = None,
    sha256: str = "",
    against: Inventory | None = None,
    scope: Scope = ALL,
) -> bytes:
    """The bytes of the report file in ``fmt`` (see :func:`export_report` for the arguments)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not sha256 and snapshot_path is not None:
        try:
            sha256 = sha256_of(snapshot_path)
        except OSError:
            sha256 = ""  # the report says "unknown" rather than failing the export
    with paused_gc():  # bulk work: many small objects, no cycles (see fcdesk.core.gcpause)
        drift = diff_inventories(against, inventory) if against is not None else None
        path = str(snapshot_path) if snapshot_path is not None else ""
        report = build_report(inventory, path=path, sha256=sha256, scope=scope, drift=drift)
        if fmt == "json":
            return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        if fmt == "csv":
            return report_csv(report).encode("utf-8")
        if fmt == "html":
            return render_html(inventory, report, scope=scope).encode("utf-8")
        return report_xlsx(report)


def _write_atomically(target: Path, data: bytes) -> None:
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(temp, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------- xlsx


def report_xlsx(report: dict[str, Any]) -> bytes:
    """The report as an xlsx workbook (the sheets are listed in the module's docstring)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    snap = report["snapshot"]
    # Created "at the capture": the same report gives the same bytes (XlsxWriter fixes the zip's times).
    created = (
        datetime.fromisoformat(snap["captured_at"].replace("Z", "+00:00")) if snap["captured_at"] else None
    )
    book.set_properties({"title": f"Compliance report: {snap['tenant_name']}", "created": created})
    bold = book.add_format({"bold": True})
    _sheet(book, bold, "Summary", ["Field", "Value"], _summary_rows(report))
    keys = [k for k in COUNT_KEYS if k != "subscriptions"]
    _sheet(
        book,
        bold,
        "Subscriptions",
        [
            "Subscription id",
            "Subscription",
            *[k.replace("_", " ").capitalize() for k in keys],
            "No content filtering",
        ],
        [
            [s["id"], s["name"], *[s[k] for k in keys], s["no_content_filtering"]]
            for s in report["subscriptions"]
        ],
    )
    for name, columns, entries in report_tables(report):
        rows = [[c.get(entry) for c in columns] for entry in entries]
        _sheet(book, bold, name.capitalize(), [c.title for c in columns], rows)
    book.close()
    return buffer.getvalue()


def _summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    snap = report["snapshot"]
    rows: list[list[Any]] = [
        ["File", snap["path"]],
        ["SHA-256", snap["sha256"] or "unknown"],
        ["Captured at", snap["captured_at"]],
        ["Source", snap["source"]],
        ["Tenant", snap["tenant_name"]],
        ["Tenant id", snap["tenant_id"]],
        ["Cloud", snap["cloud"]],
        ["Partial", snap["partial"]],
        ["Label", snap["label"]],
        ["Scope", report["scope"]["text"]],
        ["Subscriptions captured", len(snap["scopes"])],
    ]
    rows += [[f"Error: {e['scope'] or 'the whole capture'}", e["message"]] for e in snap["errors"]]
    rows += [[k.replace("_", " ").capitalize(), report["counts"][k]] for k in COUNT_KEYS]
    drift = report["drift"]
    if drift is not None:
        rows.append(["Compared with the capture of", drift["older"]["captured_at"]])
        rows += [[f"Changes: {kind}", n] for kind, n in drift["counts"].items()]
    return rows


def _sheet(book: Any, bold: Any, name: str, headers: list[str], rows: list[list[Any]]) -> None:
    """One sheet: a bold, frozen header row with an autofilter over the table, then the rows."""
    sheet = book.add_worksheet(name)
    for col, title in enumerate(headers):
        sheet.write_string(0, col, title, bold)
    for r, row in enumerate(rows, 1):
        for col, value in enumerate(row):
            if isinstance(value, bool):
                sheet.write_boolean(r, col, value)
            elif isinstance(value, int):
                sheet.write_number(r, col, value)
            else:
                sheet.write_string(r, col, str(csv_value(value)))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(rows), len(headers) - 1)
    for col, title in enumerate(headers):
        longest = max([len(title), *(len(str(csv_value(row[col]))) for row in rows[:_WIDTH_SAMPLE])])
        sheet.set_column(col, col, min(max(longest + 2, _MIN_WIDTH), _MAX_WIDTH))
