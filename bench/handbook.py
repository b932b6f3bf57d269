"""The blank handbook: time of the two layout passes (front matter alone, then the whole book)
against one raw WeasyPrint layout of the same book HTML, pages, and peak memory.

The front-matter pass is what numbering the forms from page 28 costs (WeasyPrint resets the
page counter only from an @page rule, so the front matter's length must be known first).
Prints figures only; never asserts timings.

    python bench/handbook.py [--runs 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (puts the project root on sys.path)

CHARTER = "\n".join(["虚构示例学校心理健康工作章程", "第一章 总则"] + ["本章程结合本校实际制定，适用于全体教职工。" * 6] * 60)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    from weasyprint import HTML

    from renderers.handbook import handbook_html, handbook_pdf
    from renderers.pdf import DenyFetcher
    from server.registry import Registry
    from server.settings import FORM_DEFS_DIR

    registry = Registry.load([FORM_DEFS_DIR])
    texts = dict(school_name="示例市第一实验学校（九年一贯制）", charter=CHARTER, notes="使用说明\n按表填写。", other_title="其他表单")
    handbook_pdf(registry, **texts)  # warm-up: fonts, skeletons

    engine, raw = [], []
    pdf = b""
    for _ in range(args.runs):
        start = time.perf_counter()
        pdf = handbook_pdf(registry, **texts)
        engine.append(time.perf_counter() - start)
        html = handbook_html(registry, forms_from_page=6, **texts)
        start = time.perf_counter()
        HTML(string=html, url_fetcher=DenyFetcher(), base_url=None).write_pdf()
        raw.append(time.perf_counter() - start)

    from pdf import pages

    result = {"engine_s": statistics.median(engine), "raw_s": statistics.median(raw), "pages": pages(pdf),
              "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    result["ratio"] = result["engine_s"] / result["raw_s"]
    print(f"\nBlank handbook ({result['pages']} pages, median of {args.runs})")
    print(f"  handbook_pdf (two passes)   {result['engine_s']:.2f} s")
    print(f"  one raw WeasyPrint layout   {result['raw_s']:.2f} s   ratio {result['ratio']:.2f}x")
    print(f"  peak memory of the process  {result['peak_mb']:.0f} MB")
    return result


if __name__ == "__main__":
    main()
