"""The lnplan command line: thin wrappers that load inputs, call the library and write outputs.

This is the only module that sets up logging. Expected mistakes (:class:`lnplan.errors.LnplanError`)
are printed without a traceback and exit with code 2.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from lnplan import __version__
from lnplan.errors import LnplanError

app = typer.Typer(
    name="lnplan",
    help="Plan Liaoning's disability-service programmes on real geography.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Run a solver on a classic benchmark instance.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

console = Console()
err_console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"lnplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error for a planner (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


# --- commands -------------------------------------------------------------------------------
# Each command keeps to: parse options -> call the library -> print or write. Wrap library calls
# in `except LnplanError as e: raise fail(str(e)) from None` so expected mistakes never show a
# traceback.


def _parse_mapping(items: list[str] | None, option: str) -> dict[str, str]:
    """``["lon=X坐标", "id=户号"]`` -> ``{"lon": "X坐标", "id": "户号"}``."""
    mapping: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise fail(f"{option} {item!r}: expected FIELD=COLUMN, e.g. {option} lon=X坐标")
        mapping[key.strip()] = value.strip()
    return mapping


# --- layers: validate -----------------------------------------------------------------------


@app.command()
def validate(
    file: Annotated[str, typer.Argument(help="CSV, XLSX, GeoPackage, GeoJSON or Shapefile.")],
    kind: Annotated[
        str, typer.Option("--kind", help="households | facilities | candidates")
    ] = "households",
    coords: Annotated[
        str, typer.Option("--coords", help="Datum of the coordinates: wgs84 | gcj02 | bd09")
    ] = "wgs84",
    column: Annotated[
        list[str] | None,
        typer.Option("--column", help="Map a field to a column name: FIELD=COLUMN (repeatable)."),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="CSV text encoding (default: auto)")
    ] = None,
) -> None:
    """List every problem in a point layer; exit 0 when clean, 2 when not."""
    from lnplan.geo.layers import validate_layer

    mapping = _parse_mapping(column, "--column")
    try:
        gdf, problems = validate_layer(
            file, kind, coords=coords, columns=mapping, encoding=encoding
        )
    except LnplanError as exc:
        raise fail(str(exc)) from None
    if problems:
        for p in problems:
            console.print(str(p), highlight=False, soft_wrap=True, markup=False)
        n = len(problems)
        raise fail(f"{file}: {n} problem{'s' if n != 1 else ''} found")
    assert gdf is not None
    total = f", {int(gdf['count'].sum()):,} in all" if "count" in gdf else ""
    console.print(f"{file}: OK, {len(gdf):,} {kind} rows{total}", highlight=False, soft_wrap=True)


# --- boundaries map demo ----------------------------------------------------------------------


@app.command()
def demo(
    out: Annotated[str, typer.Option("--out", help="Output folder.")] = "out/demo",
) -> None:
    """Write the demo map of Liaoning's 14 cities and 100 counties to OUT/index.html."""
    from pathlib import Path

    from lnplan.geo import boundaries
    from lnplan.maps.boundaries import boundary_map, save_map

    try:
        path = save_map(
            boundary_map(boundaries.counties(), boundaries.cities()), Path(out) / "index.html"
        )
    except LnplanError as exc:
        raise fail(str(exc)) from None
    console.print(f"Map written: {path.resolve()}", highlight=False, soft_wrap=True)


# --- geo boundaries ---------------------------------------------------------------------------


@app.command("boundaries")
def boundaries_cmd() -> None:
    """List Liaoning's 14 cities with their codes and number of counties."""
    from rich.table import Table

    from lnplan.geo import boundaries

    try:
        cities = boundaries.cities()
        n_counties = len(boundaries.counties())
    except LnplanError as exc:
        raise fail(str(exc)) from None
    table = Table(title="辽宁省 prefecture-level cities")
    table.add_column("code")
    table.add_column("city")
    table.add_column("counties", justify="right")
    for row in cities.itertuples():
        table.add_row(str(row.code), str(row.name), str(row.n_counties))
    console.print(table)
    console.print(f"{len(cities)} cities, {n_counties} counties", highlight=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LnplanError as exc:  # a library error a command did not catch itself
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
