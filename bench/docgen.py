"""Benchmark: 500 responsibility letters, our batch path against docxtpl; one notice to PDF.

    .venv/bin/python bench/docgen.py [--units 500] [--pdf-runs 3] [--imprint-only]

docxtpl renders an equivalent template built here: our own letter, generated for a unit
whose fields are jinja tags, so both sides write the same document for the same 500 units.
docxtpl runs as its documentation shows, loading the template, rendering and saving once
per unit. Files go to bench/out/docgen/.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
import zipfile
from pathlib import Path

from docxtpl import DocxTemplate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safetymonth import docgen  # noqa: E402
from safetymonth.docgen import batch, documents, models, pdf  # noqa: E402

OUT = ROOT / "bench" / "out" / "docgen"
EXAMPLES = ROOT / "examples"
CATEGORIES = ["养老机构", "儿童福利机构", "救助管理机构", "殡葬服务机构"]


def roster(count: int) -> models.Letter:
    data = models.load(EXAMPLES / "letters-2024.yaml", "letter")
    units = [models.LetterUnit(name=f"德化县第{index:03d}民政服务机构",
                               category=CATEGORIES[index % len(CATEGORIES)],
                               head=f"负责人{index:03d}") for index in range(count)]
    return data.model_copy(update={"units": units})


def docxtpl_template(data: models.Letter, path: Path) -> Path:
    """Our letter with jinja tags where the unit's fields go: docxtpl's input."""
    tags = models.LetterUnit(name="{{ unit.name }}", category="{{ unit.category }}",
                             head="{{ unit.head }}")
    documents.build_letter(data, tags).save(path)
    return path


def timed(label: str, action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {elapsed:7.2f} s", flush=True)
    return elapsed


def run_docxtpl(template: Path, data: models.Letter, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for unit, name in zip(data.units, batch.letter_filenames(data.units), strict=True):
        document = DocxTemplate(str(template))
        document.render({"unit": unit.model_dump()})
        document.save(str(folder / name))


def letters(count: int) -> dict[str, float]:
    data = roster(count)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    template = docxtpl_template(data, OUT / "letter-template.docx")
    times = {
        "docxtpl": timed(f"docxtpl, one process, {count} letters",
                         lambda: run_docxtpl(template, data, OUT / "docxtpl")),
        "single": timed(f"safetymonth, one process, {count} letters",
                        lambda: batch.write_letters(data, OUT / "single", jobs=1)),
        "batch": timed(f"safetymonth, two processes, {count} letters",
                       lambda: batch.write_letters(data, OUT / "batch", jobs=2)),
    }
    for folder in ("docxtpl", "single", "batch"):  # every side wrote the unit's own letter
        path = OUT / folder / batch.letter_filenames(data.units)[7]
        with zipfile.ZipFile(path) as package:
            assert data.units[7].head.encode() in package.read("word/document.xml"), folder
    print(f"  one core vs docxtpl:  {times['docxtpl'] / times['single']:.1f}×  (target ≥ 1.5×)")
    print(f"  two cores vs docxtpl: {times['docxtpl'] / times['batch']:.1f}×  (target ≥ 3×)")
    print(f"  per letter: docxtpl {times['docxtpl'] / count * 1000:.1f} ms, "
          f"ours {times['single'] / count * 1000:.1f} ms")
    return times


def notice_pdf(runs: int) -> None:
    data = models.load(EXAMPLES / "notice-weihai-2016.yaml", "notice")
    source = OUT / "notice.docx"
    documents.build_notice(data).save(source)
    two = [timed("notice → PDF, two soffice starts (no uno)", lambda: pdf.convert_cold(
        [source], OUT / "two", one_start=False)) for _ in range(runs)]
    one = [timed("notice → PDF, one LibreOffice start", lambda: pdf.convert_cold(
        [source], OUT / "one")) for _ in range(runs)]
    print(f"  median two starts {statistics.median(two):.2f} s, one "
          f"{statistics.median(one):.2f} s: {statistics.median(two) / statistics.median(one):.1f}×")


def imprint_placement(runs: int) -> None:
    """The cost of putting the 版记 on an even page (a .docx, no PDF asked), against the peer a
    user pays anyway for a PDF, one cold conversion. Issue 23 part 2: the page comes from
    estimate.py, and LibreOffice only runs where the estimate is unsure."""
    data = models.load(EXAMPLES / "notice-weihai-2016.yaml", "notice")
    summary = models.load(EXAMPLES / "summary-2024.yaml", "summary")
    source = OUT / "plain.docx"
    documents.build_notice(data).save(source)
    cold = [timed("notice → PDF, cold soffice", lambda: pdf.convert_cold([source], OUT / "cold"))
            for _ in range(runs)]
    placed = [timed("notice .docx, 版记 on an even page", lambda: docgen.build(data))
              for _ in range(runs)]
    summed = [timed("summary .docx, 版记 on an even page", lambda: docgen.build(summary))
              for _ in range(runs)]
    plain = [timed("notice .docx, 版记 under the body (single-sided)", lambda: docgen.build(
        data, options=docgen.Options(imprint_on_even_page=False))) for _ in range(runs)]
    print(f"  median placed {statistics.median(placed):.2f} s (summary "
          f"{statistics.median(summed):.2f} s, single-sided {statistics.median(plain):.2f} s): "
          f"{statistics.median(placed) / statistics.median(cold):.2f}× one cold conversion")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--pdf-runs", type=int, default=3)
    parser.add_argument("--imprint-only", action="store_true",
                        help="only the 版记 placement (issue 23 part 2)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.imprint_only:
        letters(args.units)
        notice_pdf(args.pdf_runs)
    imprint_placement(args.pdf_runs)


if __name__ == "__main__":
    main()
