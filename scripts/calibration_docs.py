"""Charts and tables of docs/calibration.md from a calibration directory.

    python scripts/calibration_docs.py results/calibration      # writes docs/calibration_*.png/svg
"""

import sys
from pathlib import Path

import pandas as pd

from equitysim.calibration import markdown_tables, read_summary
from equitysim.plots.calibration import parameter_chart, series_chart
from equitysim.plots.style import save

out = Path(sys.argv[1] if len(sys.argv) > 1 else "results/calibration")
docs = Path(__file__).resolve().parents[1] / "docs"
summary = read_summary(out)
post = pd.read_csv(out / "posterior.csv", comment="#")
for name, fig in (("calibration_series", series_chart(summary)), ("calibration_parameters", parameter_chart(summary, post))):
    for ext in ("png", "svg"):
        save(fig, docs / f"{name}.{ext}")
print(markdown_tables(summary))
print(f"simulations {summary['simulations']}, seconds {summary['seconds']}, not implausible "
      f"{summary['prior_share_not_implausible']:.3f}, ESS {summary['effective_sample_size']:.0f}, commit {summary['commit']}")
