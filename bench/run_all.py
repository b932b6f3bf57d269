"""`make bench`: every benchmark, one after another (never in parallel: they share the CPUs).

Prints figures and the two targets of the design (engine ≥ 0.9× hand-written throughput,
PDF ≤ 1.1× raw WeasyPrint); never fails on a timing.

    python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (puts the project root on sys.path)
import batch_print  # noqa: E402
import form_versions  # noqa: E402
import handbook  # noqa: E402
import hostile_bodies  # noqa: E402
import pdf  # noqa: E402
import roster_import  # noqa: E402
import throughput  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and runs (a smoke run, noisy figures)")
    args = parser.parse_args()
    print(f"xindang benchmarks — Python {platform.python_version()}, {os.cpu_count()} CPU(s), {platform.platform()}")

    tp_args = ["--requests", "300", "--warmup", "50", "--rounds", "1"] if args.quick else []
    tp = throughput.main(tp_args)
    pd = pdf.main(["--runs", "3"] if args.quick else [])
    hb = handbook.main(["--runs", "1"] if args.quick else [])
    roster_import.main(["--students", "1000"] if args.quick else [])
    bp = batch_print.main(["--students", "6"] if args.quick else [])
    form_versions.main(["--records", "300"] if args.quick else [])
    hostile = hostile_bodies.main(["--timeout", "30"])

    print("\nSummary")
    for row in tp:
        verdict = "meets" if row["ratio"] >= 0.9 else "below"
        print(f"  throughput {row['case']:<18} engine/hand-written = {row['ratio']:.2f}x  ({verdict} the 0.9x target)")
    verdict = "meets" if pd["ratio"] <= 1.1 else "above"
    print(f"  PDF one record     engine/raw WeasyPrint = {pd['ratio']:.2f}x  ({verdict} the 1.1x target)")
    print(f"  blank handbook     {hb['pages']} pages in {hb['engine_s']:.1f} s  ({hb['ratio']:.2f}x one raw layout)")
    verdict = "meets" if bp["ratio"] <= 1.2 else "above"
    print(f"  batch print class  all workers/(raw/cores) = {bp['ratio']:.2f}x  ({verdict} the 1.2x target), "
          f"worker peak {bp['peak_mb']:.0f} MB")
    worst = max(hostile, key=lambda r: r["seconds"])
    print(f"  hostile bodies     worst request {worst['seconds']:.2f} s, worst concurrent GET /login "
          f"{max(r['login'] for r in hostile):.2f} s  (target: ≤ 1 s each)")


if __name__ == "__main__":
    main()
