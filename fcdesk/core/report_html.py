"""The HTML report: one self-contained page to read, sort and print (``fcdesk report --format html``).

Built from the report data (:func:`fcdesk.core.report.build_report`), so its tables hold exactly what
the JSON, CSV and xlsx hold; the inventory supplies what text alone does not say (a matrix cell's
state, for its colour, and its strictness, for sorting).

Self-contained and inert: styles and the sorting script are inline, nothing is fetched (no ``src``
at all, no font, no image), and a Content-Security-Policy ``default-src 'none'`` says so to the
browser. The only addresses outside the page are plain anchors into the Azure portal of the
snapshot's cloud. Every text that comes from Azure or from the snapshot is escaped
(:func:`html.escape`): a deployment named ``<script>…`` shows as that text. A print stylesheet lays
the page out on landscape sheets with the colours kept and each table's header repeated.

Colour is a second cue, never the only one: every cell says what it means in words ("Blocks ≥
Medium", "Violations detected").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from fcdesk._version import __version__
from fcdesk.core.guardrails import CATALOGUE, Cell, CellState, Severity
from fcdesk.core.inventory import ALL, Inventory, Scope
from fcdesk.core.posture import severity_rank
from fcdesk.core.report import COUNT_KEYS
from fcdesk.core.text import EMPTY, format_utc

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_CONTROL_LABEL = {f"{c.name}/{c.source}": c.label for c in CATALOGUE}

_STYLE = """
:root{--line:#c9ccd3;--head:#eef0f4;--muted:#5a5f6b;
--not-set:#e3e3e8;--off:#f6c9c6;--annotate:#fbe3b4;--block-high:#e4f1d2;--block-medium:#cde8c4;
--block-low:#b3dcb8;--fail:#f6c9c6;--ok:#cde8c4;--pending:#dfe6f3;--high:#f6c9c6;--medium:#fbe3b4;--low:#dfe6f3}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2027;margin:0 24px 48px}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}p{margin:4px 0 8px}.muted{color:var(--muted)}
nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid var(--line);z-index:2}
nav a{margin-right:14px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
thead th{background:var(--head);position:sticky;top:0;z-index:1}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th:after{content:" \\2195";color:var(--muted);font-size:10px}
table.sortable thead th[aria-sort=ascending]:after{content:" \\25B2"}
table.sortable thead th[aria-sort=descending]:after{content:" \\25BC"}
.wrap{overflow:auto;max-height:80vh;border:1px solid var(--line)}
.wrap table{margin:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{width:14em;background:var(--head)}
.mono{font-family:ui-monospace,Consolas,monospace;font-size:11.5px;word-break:break-all}
.s0{background:var(--not-set)}.s1{background:var(--off)}.s2{background:var(--annotate)}
.sh{background:var(--block-high)}.sm{background:var(--block-medium)}.sl{background:var(--block-low)}
.gap{font-weight:700}.bold{font-weight:700}
.fail{background:var(--fail)}.ok{background:var(--ok)}.pending{background:var(--pending)}
.high{background:var(--high)}.medium{background:var(--medium)}.low{background:var(--low)}
.legend span{display:inline-block;padding:1px 6px;margin:2px 4px 2px 0;border:1px solid var(--line)}
.banner{background:var(--fail);padding:6px 10px;border:1px solid var(--line)}
@media print{
@page{size:A4 landscape;margin:10mm}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;font-size:9pt}nav{display:none}
section{break-before:page}section:first-of-type{break-before:auto}
h2,h3{break-after:avoid}thead{display:table-header-group}tr{break-inside:avoid}
thead th{position:static}.wrap{overflow:visible;max-height:none;border:0}
table{font-size:7.5pt}table.sortable thead th:after{content:none}
a{color:inherit;text-decoration:none}
}
"""

#: Sorting: click (or Enter on) a header; numbers by value, text in natural order; ties keep the order.
_SCRIPT = """
(function () {
  var coll = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function value(td, num) {
    var v = td.getAttribute("data-v");
    if (v === null) v = td.textContent;
    if (!num) return v;
    var f = parseFloat(v);
    return isNaN(f) ? -Infinity : f;
  }
  function sort(th) {
    var body = th.closest("table").tBodies[0], i = th.cellIndex, num = th.hasAttribute("data-num");
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var rows = Array.prototype.map.call(body.rows, function (r, n) {
      return [value(r.cells[i], num), n, r];
    });
    rows.sort(function (a, b) {
      var c = num ? (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) : coll.compare(a[0], b[0]);
      return c ? c * dir : a[1] - b[1];
    });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r[2]); });
    body.appendChild(frag);
  }
  function header(e) { return e.target.closest && e.target.closest("table.sortable thead th"); }
  document.addEventListener("click", function (e) { var th = header(e); if (th) sort(th); });
  document.addEventListener("keydown", function (e) {
    var th = header(e);
    if (th && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); sort(th); }
  });
})();
"""

_SEVERITY_CLASS = {"high": "high", "medium": "medium", "low": "low"}
_STATUS_CLASS = {
    "Compliant": "ok",
    "Violations detected": "fail",
    "Pending evaluation": "pending",
    "Disabled": "s0",
}
_CHANGE_CLASS = {"loosened": "fail", "removed": "pending", "tightened": "ok"}


def _e(value: object) -> str:
    """Text for HTML (content or a quoted attribute): ``None`` shows as "—"."""
    return EMPTY if value is None else escape(str(value), quote=True)


def _yes(value: bool) -> str:
    return "Yes" if value else "No"


def _cell_class(cell: Cell) -> str:
    """The colour of a matrix cell, by what it does (the same cue as the Guardrails tab)."""
    if cell.state is CellState.NOT_SET:
        return "s0"
    if cell.state is CellState.OFF:
        return "s1"
    if cell.state is CellState.ANNOTATE:
        return "s2"
    if cell.threshold is Severity.HIGH:
        return "sh"
    if cell.threshold is Severity.LOW or not cell.severity_control:
        return "sl"
    return "sm"


def _th(title: str, *, num: bool = False, tip: str = "") -> str:
    attrs = ' tabindex="0"' + (" data-num" if num else "") + (f' title="{_e(tip)}"' if tip else "")
    return f"<th{attrs}>{_e(title)}</th>"


def _td(text: object, cls: str = "", sort: object = None) -> str:
    attrs = (f' class="{cls}"' if cls else "") + (f' data-v="{_e(sort)}"' if sort is not None else "")
    return f"<td{attrs}>{_e(text)}</td>"


def _num(value: int) -> str:
    return f'<td class="n" data-v="{value}">{value:,}</td>'


def _link(url: str) -> str:
    """A cell with a plain anchor into the Azure portal (``url`` is one: see ``report.portal_url``)."""
    return (
        f'<td><a href="{_e(url)}" rel="noopener noreferrer">Open in Azure portal</a></td>' if url else _td("")
    )


def _table(table_id: str, headers: Iterable[str], rows: Iterable[str], *, wrap: bool = False) -> str:
    """A sortable table; ``headers`` are ready ``<th>`` elements and ``rows`` ready ``<tr>`` elements."""
    html = (
        f'<table id="{table_id}" class="sortable"><thead><tr>{"".join(headers)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return f'<div class="wrap">{html}</div>' if wrap else html


def render_html(inventory: Inventory, report: dict[str, Any], *, scope: Scope = ALL) -> str:
    """The HTML page of ``report``, built by ``build_report(inventory, scope=scope, ...)``."""
    snap = report["snapshot"]
    title = f"Compliance report: {snap['tenant_name'] or snap['tenant_id'] or 'tenant'}"
    sections = [
        _snapshot_section(report),
        _summary_section(report),
        _policies_section(report),
        _matrix_section(inventory, report, scope),
        _security_section(report),
    ]
    nav = [("snapshot", "Snapshot"), ("summary", "Summary"), ("policies", "Policies")]
    nav += [("matrix", "Guardrail matrix"), ("security", "Security posture")]
    if report["drift"] is not None:
        sections.append(_drift_section(report["drift"]))
        nav.append(("drift", "Drift"))
    links = "".join(f'<a href="#{key}">{label}</a>' for key, label in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="fcdesk {_e(__version__)}">'
        f"<title>{_e(title)} ({_e(snap['captured_at'])})</title><style>{_STYLE}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="muted">Captured {_e(_when(snap["captured_at"]))}; '
        f"{_e(report['scope']['text'])}. SHA-256 {_e(snap['sha256'] or 'unknown')}.</p></header>"
        f"<nav>{links}</nav>"
        f"{''.join(sections)}"
        f'<footer class="muted"><p>Report format {report["report_version"]}, fcdesk {_e(__version__)}. '
        "Click a column header to sort.</p></footer>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def _when(iso: str | None) -> str:
    """``2026-11-20 09:30 UTC`` from the report's ISO time."""
    if not iso:
        return EMPTY
    return format_utc(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def _snapshot_section(report: dict[str, Any]) -> str:
    snap = report["snapshot"]
    rows = [
        ("File", snap["path"] or EMPTY, "mono"),
        ("SHA-256", snap["sha256"] or "unknown", "mono"),
        ("Captured", f"{_when(snap['captured_at'])} ({snap['captured_at']})", ""),
        (
            "Tenant",
            f"{snap['tenant_name']} ({snap['tenant_id']})" if snap["tenant_id"] else snap["tenant_name"],
            "",
        ),
        ("Cloud", snap["cloud"], ""),
        ("Source", snap["source"], ""),
        ("Scope of this report", report["scope"]["text"], ""),
        ("Subscriptions captured", f"{len(snap['scopes'])}", ""),
        ("Label", snap["label"] or EMPTY, ""),
        ("Complete", "No: cancelled, or some scope failed" if snap["partial"] else "Yes", ""),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th>{_td(v, cls)}</tr>" for k, v, cls in rows)
    errors = ""
    if snap["errors"]:
        items = "".join(
            f'<li><span class="mono">{_e(err["scope"] or "the whole capture")}</span>: {_e(err["message"])}'
            + (f" ({_e(err['code'])})" if err["code"] else "")
            + "</li>"
            for err in snap["errors"]
        )
        errors = (
            f'<p class="banner">Parts of this capture failed; what they hold is missing.</p><ul>{items}</ul>'
        )
    return f'<section id="snapshot"><h2>Snapshot</h2><table class="kv">{body}</table>{errors}</section>'


def _summary_section(report: dict[str, Any]) -> str:
    counts = report["counts"]
    keys = [k for k in COUNT_KEYS if k != "subscriptions"]
    totals = " · ".join(f"{counts[k]:,} {k.replace('_', ' ')}" for k in COUNT_KEYS)
    headers = [_th("Subscription"), _th("Subscription id")]
    headers += [_th(k.replace("_", " ").capitalize(), num=True) for k in keys]
    headers.append(
        _th("Content filtering", tip="Whether any deployment of the subscription filters anything")
    )
    rows = []
    for sub in report["subscriptions"]:
        unfiltered = sub["no_content_filtering"]
        rows.append(
            "<tr>"
            + _td(sub["name"])
            + _td(sub["id"], "mono")
            + "".join(_num(sub[k]) for k in keys)
            + _td("None at all" if unfiltered else "Yes", "fail" if unfiltered else "")
            + "</tr>"
        )
    return (
        f'<section id="summary"><h2>Summary</h2><p>{_e(totals)}</p>'
        f"{_table('t-subscriptions', headers, rows)}</section>"
    )


def _policies_section(report: dict[str, Any]) -> str:
    headers = [
        _th("Policy"),
        _th("Scope"),
        _th("Compliance"),
        _th("Violating", num=True),
        _th("Assets", num=True),
        _th("Excepted", num=True),
        _th("As of"),
        _th("Requires"),
    ]
    rows = []
    for pol in report["policies"]:
        requires = "; ".join(
            f"{_CONTROL_LABEL[c['control']]}: {c['required']}"
            if c["control"] in _CONTROL_LABEL
            else c["required"]
            for c in pol["controls"]
        )
        status = pol["status"] + (
            f" ({pol['disagreements']} disagree with the local check)" if pol["disagreements"] else ""
        )
        if pol["status"] == "Pending evaluation" and pol["violating"]:
            status += f" ({pol['violating']} violating by fcdesk's local check)"
        rows.append(
            "<tr>"
            + _td(pol["name"])
            + _td(pol["scope"], "mono")
            + _td(status, _STATUS_CLASS.get(pol["status"], ""))
            + _num(pol["violating"])
            + _num(pol["total"])
            + _num(len(pol["excepted"]))
            + _td(_when(pol["as_of"]), sort=pol["as_of"] or "")
            + _td(requires or "Nothing beyond the controls being present")
            + "</tr>"
        )
    return (
        '<section id="policies"><h2>Guardrail policies</h2>'
        "<p>Compliance is Azure's verdict where there is one, else fcdesk's local check.</p>"
        f"{_table('t-policies', headers, rows)}</section>"
    )


_LEGEND = (
    '<p class="legend"><span class="sl">Blocks ≥ Low (strictest)</span>'
    '<span class="sm">Blocks ≥ Medium</span><span class="sh">Blocks ≥ High</span>'
    '<span class="s2">Annotate only</span><span class="s1">Off</span>'
    '<span class="s0">Not set</span><span class="gap">Bold: weaker than Microsoft.DefaultV2</span></p>'
    "<p>REST <em>severityThreshold: Low</em> is the strictest setting: it blocks low, medium and high. "
    "<em>(inherited)</em>: from the base policy or the account default. Sorting a control column "
    "ascending puts the weakest first.</p>"
)


def _matrix_section(inventory: Inventory, report: dict[str, Any], scope: Scope) -> str:
    headers = [
        _th("Deployment"),
        _th("Subscription"),
        _th("Resource group"),
        _th("Account"),
        _th("Model"),
        _th("Guardrail"),
        _th("Mode"),
        _th("Gap", tip="Weaker than Microsoft.DefaultV2 somewhere, or no guardrail of its own"),
    ]
    headers += [_th(c.short, num=True, tip=c.label) for c in CATALOGUE]
    names = {s["id"].lower(): s["name"] for s in report["subscriptions"]}
    cell_html: dict[tuple[Cell, bool], str] = {}  # a few dozen distinct cells across any tenant
    rows = []
    for entry, mrow in zip(report["matrix"], inventory.matrix_rows(scope), strict=True):
        gaps = set(mrow.gaps)
        cells = []
        for i, cell in enumerate(mrow.effective.cells):
            key = (cell, i in gaps)
            html = cell_html.get(key)
            if html is None:
                cls = _cell_class(cell) + (" gap" if key[1] else "")
                html = cell_html[key] = _td(cell.text, cls, cell.strictness)
            cells.append(html)
        rows.append(
            f'<tr><td title="{_e(entry["id"])}">{_e(entry["name"])}</td>'
            + _td(names.get(entry["subscription"].lower(), entry["subscription"]))
            + _td(entry["resource_group"])
            + _td(entry["account"])
            + _td(entry["model"])
            + _td(entry["guardrail"])
            + _td(entry["mode"])
            + _td(_yes(entry["gap"]), "gap" if entry["gap"] else "")
            + "".join(cells)
            + "</tr>"
        )
    return (
        f'<section id="matrix"><h2>Guardrail matrix</h2><p>{len(rows):,} deployments, one column per '
        f"control.</p>{_LEGEND}{_table('t-matrix', headers, rows, wrap=True)}</section>"
    )


def _security_section(report: dict[str, Any]) -> str:
    rec_headers = [_th("Recommendation"), _th("Resource"), _th("Severity"), _th("Status"), _th("Category")]
    rec_headers.append(_th("Azure portal"))
    recs = []
    for r in report["recommendations"]:
        unhealthy = r["status"].lower() == "unhealthy"
        sev_cls = _SEVERITY_CLASS.get(r["severity"].lower(), "") if unhealthy else ""
        recs.append(
            ('<tr class="bold">' if r["attention"] else "<tr>")
            + f'<td title="{_e(r["id"])}">{_e(r["name"])}</td>'
            + f'<td title="{_e(r["resource_id"])}">{_e(r["resource"] or EMPTY)}</td>'
            + _td(r["severity"] or "Unknown", sev_cls, severity_rank(r["severity"]))
            + _td(r["status"])
            + _td(r["category"] or EMPTY)
            + _link(r["portal"])
            + "</tr>"
        )
    alert_headers = [_th("Severity"), _th("Time"), _th("Alert"), _th("Type"), _th("Resource"), _th("Status")]
    alert_headers.append(_th("Azure portal"))
    alerts = []
    for a in report["alerts"]:
        name = f"[{a['tag']}] {a['name']}" if a["tag"] else a["name"]
        alerts.append(
            "<tr>"
            + _td(
                a["severity"] or "Unknown",
                _SEVERITY_CLASS.get(a["severity"].lower(), ""),
                severity_rank(a["severity"]),
            )
            + _td(_when(a["time"]), sort=a["time"] or "")
            + _td(name, "bold" if a["tag"] else "")
            + _td(a["type"] or EMPTY)
            + f'<td title="{_e(chr(10).join(a["resource_ids"]))}">{_e(a["resource"])}</td>'
            + _td(a["status"] or EMPTY)
            + _link(a["portal"])
            + "</tr>"
        )
    plan_headers = [
        _th("Subscription"),
        _th("Defender for Cloud"),
        _th(
            "Defender for AI plan", tip="The Defender for Cloud plan 'AI' (threat protection for AI services)"
        ),
        _th("Prompt evidence"),
        _th("Microsoft Purview"),
        _th("Accounts with Defender for AI on"),
        _th("What to do"),
        _th("Azure portal"),
    ]
    plans = []
    for p in report["plans"]:
        accounts = "\n".join(f"{a['name']}: {'On' if a['on'] else 'Off'}" for a in p["accounts"])
        evidence = EMPTY if p["prompt_evidence"] is None else ("On" if p["prompt_evidence"] else "Off")
        plans.append(
            f'<tr><td title="{_e(p["subscription_id"])}">{_e(p["subscription"])}</td>'
            + _td(
                "On" if p["defender_for_cloud"] else "Not enabled", "" if p["defender_for_cloud"] else "fail"
            )
            + _td(p["plan"], "ok" if p["ai_protection"] else "fail")
            + _td(evidence)
            + _td("On" if p["purview"] else "Off")
            + f'<td title="{_e(accounts)}" data-v="{p["accounts_on"]}">'
            + f"{p['accounts_on']} of {len(p['accounts'])}</td>"
            + _td(p["guidance"] or EMPTY)
            + _link(p["portal"])
            + "</tr>"
        )
    attention = sum(1 for r in report["recommendations"] if r["attention"])
    attention += sum(1 for a in report["alerts"] if a["attention"])
    return (
        '<section id="security"><h2>Security posture</h2>'
        f"<p>{attention:,} need attention (unhealthy High-severity recommendations and active "
        "High-severity alerts, in bold).</p>"
        f"<h3>Recommendations ({len(recs):,})</h3>"
        "<p>Defender for Cloud's recommendations on the AI resources.</p>"
        f"{_table('t-recommendations', rec_headers, recs)}"
        f"<h3>Alerts ({len(alerts):,})</h3><p>Jailbreak and other prompt attacks are tagged.</p>"
        f"{_table('t-alerts', alert_headers, alerts)}"
        f"<h3>Defender plans ({len(plans):,})</h3>"
        f"{_table('t-plans', plan_headers, plans)}</section>"
    )


def _drift_section(drift: dict[str, Any]) -> str:
    counts = drift["counts"]
    said = ", ".join(f"{n:,} {kind}" for kind, n in counts.items() if n) or "nothing changed"
    headers = [
        _th("Change"),
        _th("What"),
        _th("Name"),
        _th("Control"),
        _th("Before"),
        _th("After"),
        _th("Detail"),
    ]
    rows = [
        "<tr>"
        + _td(c["kind"], _CHANGE_CLASS.get(c["kind"], ""))
        + _td(c["target"])
        + f'<td title="{_e(c["id"])}">{_e(c["name"])}</td>'
        + _td(c["control"] or EMPTY)
        + _td(c["before"] or EMPTY)
        + _td(c["after"] or EMPTY)
        + _td(c["detail"] or EMPTY)
        + "</tr>"
        for c in drift["changes"]
    ]
    older, newer = drift["older"], drift["newer"]
    banner = '<p class="banner">Something loosened since the older capture.</p>' if drift["loosened"] else ""
    return (
        '<section id="drift"><h2>Drift</h2>'
        f"<p>From the capture of {_e(_when(older['captured_at']))}"
        + (f" ({_e(older['label'])})" if older["label"] else "")
        + f" to this one ({_e(_when(newer['captured_at']))}): {_e(said)}. Loosenings first.</p>"
        f"{banner}{_table('t-drift', headers, rows)}</section>"
    )
