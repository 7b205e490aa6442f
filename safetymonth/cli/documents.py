"""``safetymonth generate``: the notice, the letters and the summary (GB/T 9704-2012)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from safetymonth.cli.group import EXIT_FAILED, EXIT_USAGE, main
from safetymonth.cli.options import config_of, config_option
from safetymonth.cli.runtime import progress

if TYPE_CHECKING:
    from safetymonth.config import Config


@main.command()
@config_option
@click.argument("kind", type=click.Choice(["notice", "letter", "summary"]))
@click.argument("data_path", metavar="DATA.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="The .docx (notice, summary) or the folder (letter: one file per unit).")
@click.option("--pdf", "with_pdf", is_flag=True, help="Also export PDFs through LibreOffice.")
@click.option("--combined", is_flag=True,
              help="Letters: also one PDF of them all, in roster order, for printing "
                   "(double-sided unless docgen.imprint_on_even_page is false).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes for letters (0: one per core).")
@click.option("--with-statistics/--without-statistics", "with_statistics", default=None,
              help="Summary: keep or drop the table of submissions per unit from the store, "
                   "whatever the data file's `intake:` says.")
@click.pass_context
def generate(ctx: click.Context, kind: str, data_path: Path, out: Path, with_pdf: bool,
             combined: bool, jobs: int, with_statistics: bool | None) -> None:
    """Write a notice, the responsibility letters or the summary in GB/T 9704-2012 layout.

    Exit 2 for bad data, templates or templates_dir; exit 1 when an output file or a PDF
    cannot be written.
    """
    from safetymonth import docgen
    from safetymonth.document_options import document_options
    from safetymonth.roster import letter_units

    if with_statistics is not None and kind != "summary":
        raise click.UsageError("--with-statistics/--without-statistics 只用于总结（summary）")
    config = config_of(ctx)
    templates = config.docgen.templates_dir
    try:
        options = document_options(config)
        data = docgen.load(data_path, kind, letter_units(config.units))
        if with_statistics is not None:
            data = data.model_copy(update={"intake": with_statistics})
        rows = _intake_rows(config) if getattr(data, "intake", False) else []
        with progress(len(getattr(data, "units", ())), "letters") as advance:
            paths = docgen.generate(data, out, templates and config.resolve(templates),
                                    intake_rows=rows, jobs=jobs, on_done=advance,
                                    options=options)
    except docgen.OutputError as error:
        click.echo(f"safetymonth: {error}", err=True)
        ctx.exit(EXIT_FAILED)
    except docgen.DocgenError as error:
        click.echo(f"safetymonth: {error}", err=True)
        ctx.exit(EXIT_USAGE)
    click.echo(paths[0] if len(paths) == 1 else f"{len(paths)} files in {out}")
    if with_pdf or (combined and kind == "letter"):
        try:
            pdfs = docgen.to_pdf(paths)
            if combined and kind == "letter":
                click.echo(docgen.unite(pdfs, out / docgen.COMBINED_NAME,
                                        config.docgen.imprint_on_even_page))
        except (docgen.PdfError, OSError) as error:
            click.echo(f"safetymonth: PDF export failed: {error}", err=True)
            ctx.exit(EXIT_FAILED)
        click.echo(pdfs[0] if len(pdfs) == 1 else f"{len(pdfs)} PDF files in {out}")


def _intake_rows(config: Config) -> list[dict[str, Any]]:
    """The store's table for a summary, imported only then: a notice or a letter needs no
    store (the storage package and SQLAlchemy cost a fifth of a notice's run)."""
    from safetymonth.report import intake_rows

    return intake_rows(config)
