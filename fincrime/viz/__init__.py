"""Chain pictures, overview and the investigator report of a job output folder.

Entry points used by the job runner and ``fincrime viz``::

    from fincrime.viz import render_job, write_report
    render_job("output/demo/demo_20250101_001", formats=("html", "svg"), top=20)
    write_report("output/demo/demo_20250101_001")   # report.html, chains.csv, chains.json
"""

from __future__ import annotations

from fincrime.viz.render import render_job
from fincrime.viz.report import write_report

__all__ = ["render_job", "write_report"]
