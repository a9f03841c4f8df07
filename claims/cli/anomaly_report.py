"""``giamdinh anomalies report``: one facility's pictures of a scored period (its cost
per claim among its peer groups, its monthly trend against the facilities of its
level, the rules and score features that drive its risk), as PNG and SVG files with an
``index.html``. The ``anomalies`` group registers :func:`report`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from claims.cli.common import CatalogDir, DataDir, out, settings_for


class PictureFormat(StrEnum):
    """The files written per picture."""

    png = "png"
    svg = "svg"
    both = "both"


FORMATS = {
    PictureFormat.png: ("png",),
    PictureFormat.svg: ("svg",),
    PictureFormat.both: ("png", "svg"),
}


def report(
    period: Annotated[
        str,
        typer.Option("--period", help="The scored settlement month YYYY-MM."),
    ],
    facility: Annotated[
        str, typer.Option("--facility", help="The facility (MA_CSKCB).")
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The folder to write to (default: "
            "<data-dir>/reports/anomalies/<period>/<facility>/).",
        ),
    ] = None,
    fmt: Annotated[
        PictureFormat,
        typer.Option("--format", help="png, svg or both.", case_sensitive=False),
    ] = PictureFormat.both,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
) -> None:
    """Pictures of a facility's anomaly scores of a period (PNG/SVG + index.html)."""
    from claims.pipeline.pictures import write_report

    settings = settings_for(data_dir, catalog_dir)
    paths = write_report(settings, period, facility, out_dir, FORMATS[fmt])
    for path in paths:
        out.print(str(path), soft_wrap=True)
    out.print(
        f"wrote {len(paths)} files for facility {facility}, {period}: open {paths[-1]}",
        soft_wrap=True,
    )
