#!/usr/bin/env python3
"""Checks bench/report.py's CSV of measurements on a small made-up RESULTS.md:
`python3 bench/test_report.py`."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

MARKDOWN = """# Benchmark results

## Sequence

| N | `plan!` | ratio | |
|---|---|---|---|
| 10,000 | 7.68 ns | 12.96× | **missed** |
| 100 | — | 1.00× | met |

A paragraph ends a table.

| N | `each(all)` | baseline |
|---|---|---|
| 10,000 | 5.9 MiB (326 B) | `governor` check: 32.1 ns |

### Machine, "quoted"

| | |
|---|---|
| cores | 2 |
| CPU | AMD EPYC 7B13 |
"""


class MeasurementsCsv(unittest.TestCase):
    def test_every_figure_is_one_row_in_seconds_bytes_or_ratio(self):
        self.assertEqual(
            report.measurements_csv(MARKDOWN).splitlines(),
            [
                "section,measurement,value,unit",
                'Sequence,"10,000 / plan!",7.68e-09,s',
                'Sequence,"10,000 / ratio",12.96,ratio',
                "Sequence,100 / ratio,1,ratio",
                'Sequence,"10,000 / each(all)",6.1866e+06,B',
                'Sequence,"10,000 / each(all) (in parentheses)",326,B',
                'Sequence,"10,000 / baseline / governor check",3.21e-08,s',
                '"Machine, ""quoted""",cores,2,',
            ],
        )


if __name__ == "__main__":
    unittest.main()
