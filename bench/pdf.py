"""PDF time: the engine's print path vs raw WeasyPrint on the same HTML, and each form's blank PDF.

- one record (registration, examples/full.json, a fictional context): the engine path
  `print_html` + `html_to_pdf` (refusing URL fetcher) vs `weasyprint.HTML(string=same_html).write_pdf()`;
  warm process, median of --runs runs each.
- the blank PDF of every form (`print_html(..., blank=True)` + `html_to_pdf`), median of runs.

Prints figures only; never asserts timings.

    python bench/pdf.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import example  # noqa: E402

CONTEXT = {  # a fictional student
    "@school.name": "示例市第一实验学校（九年一贯制）", "@student.name": "张小明", "@student.gender": "男",
    "@student.number": "DEMO00001", "@student.birth_date": "2014年3月5日", "@student.class": "五年级(2)班",
    "@student.grade": "五年级", "@record.number": "2024-000001", "@record.created_on": "2024年9月5日", "@today": "2024年9月5日",
}


def median_ms(fn, runs: int) -> tuple[float, object]:
    result = fn()  # warm-up (fonts, caches)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), result


def pages(pdf: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)

    from weasyprint import HTML

    from renderers.pdf import html_to_pdf, print_html
    from server.registry import Registry
    from server.settings import FORM_DEFS_DIR

    registry = Registry.load([FORM_DEFS_DIR])
    definition = registry.get("registration")
    data = example("registration")
    html = print_html(definition, data, context=CONTEXT)

    engine_ms, engine_pdf = median_ms(lambda: html_to_pdf(print_html(definition, data, context=CONTEXT)), args.runs)
    raw_ms, raw_pdf = median_ms(lambda: HTML(string=html).write_pdf(), args.runs)
    html_ms, _html = median_ms(lambda: print_html(definition, data, context=CONTEXT), args.runs)
    results = {"record_engine_ms": engine_ms, "record_raw_ms": raw_ms, "ratio": engine_ms / raw_ms, "print_html_ms": html_ms,
               "blank": {}}
    print(f"\nPDF, one registration record (examples/full.json, {pages(engine_pdf)} pages), warm, median of {args.runs}:")
    print(f"  {'engine: print_html + html_to_pdf':<40} {engine_ms:8.1f} ms   (print_html alone {html_ms:.1f} ms)")
    print(f"  {'raw WeasyPrint on the same HTML':<40} {raw_ms:8.1f} ms")
    print(f"  {'ratio engine / raw':<40} {engine_ms / raw_ms:8.2f}x   (PDF bytes {len(engine_pdf)} vs {len(raw_pdf)})")

    print(f"\nBlank PDF of each form (print_html blank + html_to_pdf), median of {args.runs}:")
    for form_id, form in registry.forms.items():
        context = {"@school.name": CONTEXT["@school.name"]}
        ms, pdf = median_ms(lambda: html_to_pdf(print_html(form, {}, context=context, blank=True)), args.runs)
        results["blank"][form_id] = ms
        print(f"  {form_id:<24} {ms:8.1f} ms   {pages(pdf)} page(s), {len(pdf) // 1024} KB")
    return results


if __name__ == "__main__":
    main()
