"""The HTML report of a 10,000-deployment tenant (``fcdesk.core.demo.generate(250, 0)``): ≤ 2 s.

Measured in a fresh process on a freshly built inventory (no tab has derived its rows yet, as for
``fcdesk report``): the report data and the page (:func:`fcdesk.reports.render_report`), then the
whole File → Export path (:func:`fcdesk.reports.export_report`, writing the file) on another fresh
inventory.
"""

from __future__ import annotations

from bench.common import run_json

CODE = r"""
import json, os, sys, tempfile, time
from fcdesk.core.demo import generate
from fcdesk.core.inventory import Inventory
from fcdesk.reports import export_report, render_report
meta, records = generate(250, 0)
inv = Inventory.build(meta, records)
t0 = time.perf_counter()
html = render_report(inv, "html")
t1 = time.perf_counter()
inv = Inventory.build(meta, records)
with tempfile.TemporaryDirectory() as folder:
    t2 = time.perf_counter()
    path = export_report(inv, os.path.join(folder, "report.html"), "html")
    t3 = time.perf_counter()
print(json.dumps({"deployments": len(inv.deployments), "render_s": t1 - t0, "export_s": t3 - t2,
  "mb": len(html) / 1e6}))
"""

TARGET_S = 2.0


def main() -> None:
    r = run_json(CODE)
    print(
        f"HTML report of {r['deployments']:,} deployments: {r['render_s']:.2f} s (target ≤ {TARGET_S:g} s); "
        f"export_report to a file {r['export_s']:.2f} s; {r['mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
