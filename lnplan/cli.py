"""The lnplan command line: thin wrappers that load inputs, call the library and write outputs.

This is the only module that sets up logging. Expected mistakes (:class:`lnplan.errors.LnplanError`)
are printed without a traceback and exit with code 2.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
    file: Annotated[
        str,
        typer.Argument(help="CSV, XLSX, GeoPackage, GeoJSON or Shapefile; or a scenario .toml"),
    ],
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
    """List every problem in a point layer or a scenario file; exit 0 when clean, 2 when not.

    A ``.toml`` file is read as a scenario (every key checked, with its base scenarios).
    """
    from lnplan.geo.layers import validate_layer

    if file.lower().endswith(".toml"):
        from lnplan.scenario import load_scenario

        try:
            sc = load_scenario(file, [])
        except LnplanError as exc:
            raise fail(str(exc)) from None
        enabled = ", ".join(sc.enabled_sections()) or "none"
        console.print(
            f"{file}: OK, scenario {sc.name!r} (programmes enabled: {enabled})",
            highlight=False,
            soft_wrap=True,
        )
        return
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


# --- planning world: world / run ---------------------------------------------------------------


def _summary_table(summary: object, title: str) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    frame = summary.drop(columns=["city_code"])  # type: ignore[attr-defined]
    for col in frame.columns:
        table.add_column(str(col).replace("_", " "), justify="left" if col == "city" else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    Console(width=max(console.width, 120)).print(table)  # wide enough when piped


@app.command("world")
def world_cmd(
    out: Annotated[str, typer.Option("--out", help="Output folder.")] = "out/world",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic world.")] = 0,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", help="Take the world settings and data files from a scenario."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a scenario value: KEY=VALUE (repeatable)."),
    ] = None,
) -> None:
    """Write the synthetic demo world (GeoPackage) and print counts per city.

    OUT/world.gpkg holds the shareable layers; OUT/private/households.gpkg holds one point per
    household (personal data: never share it).
    """
    from lnplan.geo.synth import make_world
    from lnplan.run import write_world_folder
    from lnplan.scenario import DataSection, WorldSection, load_scenario

    try:
        if scenario is not None:
            sc = load_scenario(scenario, set_ or [])
            world = make_world(sc.world, seed, data=sc.data)
        else:
            if set_:
                raise fail("--set needs --scenario")
            world = make_world(WorldSection(), seed, data=DataSection())
        paths = write_world_folder(world, out)
    except LnplanError as exc:
        raise fail(str(exc)) from None
    _summary_table(world.summary(), f"Synthetic demo world, seed {seed} (SYNTHETIC DEMO DATA)")
    for p in paths:
        console.print(f"written: {p}", highlight=False, soft_wrap=True)
    console.print(
        "private/households.gpkg is personal data (one point per household): do not share it.",
        highlight=False,
        soft_wrap=True,
    )


def _scenario_problems(sc: object) -> list[str]:
    """Problems in the user layers a valid scenario names (every one, not the first)."""
    from lnplan.geo.layers import validate_layer

    problems: list[str] = []
    data = sc.data  # type: ignore[attr-defined]
    for kind in ("households", "facilities", "candidates"):
        source = getattr(data, kind)
        if source is None:
            continue
        try:
            _, found = validate_layer(
                source.path,
                kind,
                coords=source.coords,
                columns=source.columns or None,
                encoding=source.encoding,
                layer=source.layer,
            )
        except LnplanError as exc:
            problems.append(f"data.{kind}: {exc}")
            continue
        problems += [f"data.{kind}: {p}" for p in found]
    return problems


@contextmanager
def _cap_warnings_printed_later() -> Iterator[None]:
    """Silence SafetyCapWarning during a run: :func:`_print_plan` prints them once, in colour."""
    from lnplan.run import SafetyCapWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SafetyCapWarning)
        yield


class _RichSteps:
    """A rich progress bar on stderr for the steps of a run (none when stderr is not a terminal)."""

    def __init__(self, title: str) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.title = title
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        )
        self.task: object = None

    def __enter__(self) -> _RichSteps:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, text: str, done: int, total: int) -> None:
        logging.getLogger("lnplan.cli").info("%s: %s", self.title, text)
        if self.task is None:
            self.task = self.progress.add_task(self.title, total=total)
        self.progress.update(
            self.task,  # type: ignore[arg-type]
            completed=done,
            total=total,
            description=f"{self.title}: {text}",
        )


def _print_plan(plan: object, *, show_world: bool = True) -> None:
    from lnplan.api import Plan, headline

    assert isinstance(plan, Plan)
    result = plan.result
    if show_world:
        _summary_table(result.summary, f"{plan.scenario.name}: world, seed {plan.scenario.seed}")
    runs = plan.manifest.get("programme_runs", {})
    for view in plan.views.values():
        info = runs.get(view.name, {})
        how = info.get("outcome", "solved")
        if info.get("reused_from"):
            how = f"reused from {info['reused_from']}"
        console.print(
            f"{view.name}: {headline(view)} [{how}, {info.get('time_s', 0):.1f} s]",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    base = plan.manifest.get("baseline")
    if base:
        for line in base.get("lines", []):
            console.print(f"baseline: {line}", highlight=False, soft_wrap=True, markup=False)
    for text in plan.warnings:
        err_console.print(f"[bold yellow]warning:[/] {text}", highlight=False, soft_wrap=True)
    for section in result.missing_sections:
        console.print(
            f"note: section {section!r} is enabled but no programme for it is installed yet",
            highlight=False,
            markup=False,
        )
    if plan.out_dir is not None:
        console.print(f"outputs written to {plan.out_dir}", highlight=False, soft_wrap=True)
        index = plan.out_dir / "index.html"
        if index.is_file():
            console.print(f"map: {index}", highlight=False, soft_wrap=True)


@app.command("run")
def run_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario TOML file.")],
    out: Annotated[
        str | None, typer.Option("--out", help="Output folder (default: output.folder).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a scenario value: KEY=VALUE (repeatable)."),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Solve every programme again (ignore the cache).")
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="An earlier run folder: keep as much of its plan as possible within "
            "stability.max_loss of the best objective.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only check the scenario and its input files; list every "
            "problem and exit (0 when clean, 2 when not).",
        ),
    ] = False,
) -> None:
    """Run every programme a scenario enables and write the outputs (whole or not at all).

    A programme whose inputs did not change since the last run into the same folder is reused
    from that folder's cache (the manifest run.json says which were solved and which reused).
    """
    from lnplan.api import run
    from lnplan.scenario import load_scenario

    try:
        sc = load_scenario(scenario, set_ or [])
        if check:
            problems = _scenario_problems(sc)
            if problems:
                for p in problems:
                    console.print(p, highlight=False, soft_wrap=True, markup=False)
                n = len(problems)
                raise fail(f"{scenario}: {n} problem{'s' if n != 1 else ''} found")
            enabled = ", ".join(sc.enabled_sections()) or "none"
            console.print(
                f"{scenario}: OK, scenario {sc.name!r} (programmes enabled: {enabled})",
                highlight=False,
                soft_wrap=True,
            )
            return
        with _RichSteps(sc.name) as steps, _cap_warnings_printed_later():
            plan = run(
                sc,
                out if out is not None else sc.output.folder,
                fresh=fresh,
                baseline=baseline,
                progress=steps,
            )
    except LnplanError as exc:
        raise fail(str(exc)) from None
    _print_plan(plan)


@app.command("demo")
def demo_cmd(
    out: Annotated[str, typer.Option("--out", help="Output folder.")] = "out/demo",
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Solve every programme again (ignore the cache).")
    ] = False,
) -> None:
    """Run the demo scenario (scenarios/demo.toml: the 2022 targets on the synthetic world,
    with the demo's shorter work and time limits) and print one line per programme."""
    from lnplan.api import DEMO_SCENARIO, run
    from lnplan.scenario import load_scenario

    try:
        sc = load_scenario(DEMO_SCENARIO)
        console.print(
            f"demo: {sc.description} (SYNTHETIC DEMO DATA)", highlight=False, soft_wrap=True
        )
        with _RichSteps(sc.name) as steps, _cap_warnings_printed_later():
            plan = run(sc, out, fresh=fresh, progress=steps)
    except LnplanError as exc:
        raise fail(str(exc)) from None
    _print_plan(plan, show_world=False)


@app.command("compare")
def compare_cmd(
    run_a: Annotated[str, typer.Argument(help="The first run folder.")],
    run_b: Annotated[str, typer.Argument(help="The second run folder.")],
    out: Annotated[
        str | None,
        typer.Option("--out", help="Write comparison.xlsx and comparison.html into this folder."),
    ] = None,
) -> None:
    """What changed from RUN_A to RUN_B: sites added and removed, yuan per county, coverage per
    city, children, days and townships per team."""
    from rich import box
    from rich.table import Table

    from lnplan.compare import compare

    try:
        result = compare(run_a, run_b, out)
    except LnplanError as exc:
        raise fail(str(exc)) from None
    for line in result.sentences():
        console.print(line, highlight=False, soft_wrap=True)
    wide = Console(width=max(console.width, 120))
    for title, frame in result.tables().items():
        if frame.empty:
            continue
        shown = frame
        if title == "fund_by_county":
            shown = frame[frame["change_yuan"] != 0]
        if shown.empty:
            continue
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
        for col in shown.columns:
            table.add_column(str(col), justify="right" if shown[col].dtype.kind in "if" else "left")
        for row in shown.head(40).itertuples(index=False):
            table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
        wide.print(table)
        if len(shown) > 40:
            console.print(f"... {len(shown) - 40} more rows (see the workbook)", highlight=False)
    if out is not None:
        for name in ("comparison.xlsx", "comparison.html"):
            console.print(f"written: {out}/{name}", highlight=False, soft_wrap=True)


# --- sweeps: sweep ------------------------------------------------------------------------------


@app.command("sweep")
def sweep_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario TOML file.")],
    vary: Annotated[
        list[str],
        typer.Option(
            "--vary",
            help="KEY=START:STOP:STEP (STOP included) or KEY=a,b,c; repeat for a grid.",
        ),
    ],
    out: Annotated[str, typer.Option("--out", help="Output folder of the sweep.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a base scenario value: KEY=VALUE (repeatable)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="Worker processes of the embedded cluster (default: cores)."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Use a running Dask cluster: tcp://HOST:8786."),
    ] = None,
    serial: Annotated[
        bool, typer.Option("--serial", help="Run in this process, one task after the other.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep the rows already done in --out; run the rest.")
    ] = False,
) -> None:
    """Run a scenario over a grid of values on Dask; write rows (Parquet, CSV) and charts."""
    from lnplan.scenario import load_scenario
    from lnplan.sweep import parse_vary_options, sweep

    given = [
        name
        for name, on in (
            ("--workers", workers is not None),
            ("--scheduler", scheduler is not None),
            ("--serial", serial),
        )
        if on
    ]
    if len(given) > 1:
        raise fail(f"give at most one of --workers, --scheduler and --serial, not {given}")
    if workers is not None and workers < 1:
        raise fail(f"--workers must be >= 1, got {workers}")
    client = "serial" if serial else scheduler
    try:
        grid = parse_vary_options(vary)
        sc = load_scenario(scenario, set_ or [])
        if err_console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
            ) as bar:
                task = bar.add_task(f"{sc.name}: tasks", total=None)

                def tick(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                rows = sweep(sc, grid, client, out, workers=workers, resume=resume, progress=tick)
        else:
            rows = sweep(sc, grid, client, out, workers=workers, resume=resume, progress=None)
    except KeyboardInterrupt:
        err_console.print(
            f"interrupted: the rows finished so far are in {out}; run again with --resume",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    except LnplanError as exc:
        raise fail(str(exc)) from None
    n_ok = int(rows["ok"].sum()) if not rows.empty else 0
    console.print(
        f"{len(rows)} points, {n_ok} ran, {len(rows) - n_ok} failed; rows in {out}/rows.parquet "
        f"and {out}/rows.csv",
        highlight=False,
        soft_wrap=True,
    )
    for row in rows[~rows["ok"].astype(bool)].itertuples() if not rows.empty else []:
        console.print(f"failed: {row.point}: {row.error}", highlight=False, markup=False)
    charts = rows.attrs.get("charts", [])
    for path in charts:
        console.print(f"chart: {path}", highlight=False, soft_wrap=True)
    if not charts:
        console.print(
            "no chart: charts need --vary sites.p, screening.n_teams, screening.horizon_days, or "
            'funding.budget_yuan with funding.objective = "jobs"',
            highlight=False,
            soft_wrap=True,
        )


# --- routing: bench routing -------------------------------------------------------------------


@bench_app.command("routing")
def bench_routing_cmd(
    file: Annotated[
        str,
        typer.Argument(help="Instance: Solomon (.txt), VRPLIB (.vrp), OPHS (.ophs) or TOPTW."),
    ],
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="solomon, vrplib, ophs or toptw (default: from the extension; .txt is solomon).",
        ),
    ] = None,
    routes: Annotated[
        int, typer.Option("--routes", help="TOPTW: number of routes (default 1).")
    ] = 1,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds of search (a safety cap).")
    ] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    max_iterations: Annotated[
        int | None,
        typer.Option("--max-iterations", help="Work limit: iterations or solutions."),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="auto, pyvrp, ortools or ortools-default.")
    ] = "auto",
    local_search_iterations: Annotated[
        int | None,
        typer.Option(
            "--local-search-iterations",
            min=0,
            help="OPHS: work limit of the local search after OR-Tools (0: none; default: until "
            "the time limit).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Solve a benchmark instance with the routing engine and print the objective.

    CVRP/VRPTW (solomon, vrplib): the total distance. OPHS and TOPTW: the total score, re-checked
    from the instance file by an independent checker.
    """
    import json
    from pathlib import Path

    from lnplan.optimize.routing import SolveParams, solve_routing
    from lnplan.optimize.vrp_instances import (
        read_solomon,
        read_vrplib,
        solve_orienteering,
        to_routing_problem,
    )

    suffix = Path(file).suffix.lower()
    fmt = format_ or {".vrp": "vrplib", ".ophs": "ophs"}.get(suffix, "solomon")
    if fmt not in ("solomon", "vrplib", "ophs", "toptw"):
        raise fail(f"--format {fmt!r} is not known; accepted: solomon, vrplib, ophs, toptw")
    if routes < 1:
        raise fail(f"--routes is {routes}; give at least 1 route")
    params = SolveParams(
        time_limit_s=time_limit,
        seed=seed,
        engine=engine,
        max_iterations=max_iterations,
        local_search_iterations=local_search_iterations,
    )
    if fmt in ("ophs", "toptw"):
        try:
            out = solve_orienteering(file, fmt, routes=routes, params=params)
        except LnplanError as exc:
            raise fail(str(exc)) from None
        if as_json:
            typer.echo(json.dumps(out))
        else:
            checked = "checked" if out["benchmark_checked"] else "CHECK FAILED"
            console.print(
                f"{out['instance']}: score {out['objective']} (bound {out['bound']}), status "
                f"{out['status']} ({checked}), {out['time_s']} s, engine {out['engine']}",
                highlight=False,
            )
            for warning in out["warnings"]:  # type: ignore[attr-defined]
                console.print(f"warning: {warning}", highlight=False)
        if not out["benchmark_checked"]:
            raise fail("the answer broke a rule of the instance: " + "; ".join(out["problems"]))  # type: ignore[arg-type]
        return
    try:
        inst = read_solomon(file) if fmt == "solomon" else read_vrplib(file)
        result = solve_routing(to_routing_problem(inst), params)
    except LnplanError as exc:
        raise fail(str(exc)) from None
    objective: float = round(result.travel_time_s / inst.scale, 1)
    if inst.scale == 1:
        objective = int(result.travel_time_s)
    convention = (
        "distances truncated to 1 decimal (DIMACS)" if fmt == "solomon" else "EUC_2D nearest int"
    )
    record = {
        "instance": inst.name,
        "format": fmt,
        "objective": objective,
        "routes": result.n_routes,
        "status": result.status,
        "time_s": round(result.runtime_s, 3),
        "engine": result.engine,
        "checked": result.rules_checked,
        "rules_checked": result.rules_checked,
        "time_limit_hit": result.time_limit_hit,
        "warnings": list(result.warnings),
        "convention": convention,
    }
    if as_json:
        typer.echo(json.dumps(record))
        return
    console.print(
        f"{inst.name}: objective {objective} ({convention}), {result.n_routes} routes, "
        f"status {result.status} (checked), {result.runtime_s:.1f} s, engine {result.engine}",
        highlight=False,
    )


# --- funding: fund / apportion -----------------------------------------------------------------


def _county_names() -> set[str]:
    from lnplan.geo import boundaries

    table = boundaries.counties()
    return set(table["name"]) | set(table["short_name"])


def _signed(x: float) -> str:
    """``+1,234.50``; ``n/a`` for NaN (that budget is impossible or was not solved)."""
    return "n/a" if x != x else f"{x:+,.2f}"


@app.command("fund")
def fund_cmd(
    file: Annotated[
        str,
        typer.Argument(
            help="CSV or XLSX: county, need; optional floor_yuan, cap_yuan, floor_share, "
            "cap_share (0-1 of the budget), committed_yuan."
        ),
    ],
    budget_yuan: Annotated[int, typer.Option("--budget-yuan", help="Budget in yuan.")],
    unit_yuan: Annotated[
        int, typer.Option("--unit-yuan", help="Every amount is a multiple of this.")
    ] = 10_000,
    objective: Annotated[
        str, typer.Option("--objective", help="proportional | maxmin | jobs")
    ] = "proportional",
    any_names: Annotated[
        bool,
        typer.Option("--any-names", help="Do not check county names against Liaoning's counties."),
    ] = False,
    deterministic_time_s: Annotated[
        float,
        typer.Option(
            "--deterministic-time-s",
            min=1e-9,
            help="CP-SAT work limit per solve (deterministic seconds): same input, same answer.",
        ),
    ] = 10.0,
    time_limit_s: Annotated[
        float,
        typer.Option("--time-limit-s", min=1e-6, help="Wall-clock safety cap per solve."),
    ] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Allocate a budget among counties exactly in whole units and print the allocation.

    Prints the status (optimal / feasible / no_solution_in_limit), the objective recomputed from
    the allocation, the proven bound and gap, what proves it, and whether the rules were checked.
    """
    import json

    from rich.table import Table

    from lnplan.optimize.funding import SolveParams, explain_funding, solve_funding
    from lnplan.optimize.result import outcome_record
    from lnplan.programs.employment_fund import read_need_table

    if objective == "jobs":
        raise fail("--objective jobs needs effect curves, which a need table does not carry")
    params = SolveParams(
        time_limit_s=time_limit_s,
        deterministic_time_s=deterministic_time_s,
        time_limit_name="--time-limit-s",
        deterministic_time_name="--deterministic-time-s",
    )
    try:
        table = read_need_table(file, valid_names=None if any_names else _county_names())
        problem = table.problem(budget_yuan, unit_yuan)
        result = solve_funding(problem, objective, params)
        found = result.has_allocation
        expl = None if as_json or not found else explain_funding(problem, result, params)
    except LnplanError as exc:
        raise fail(str(exc)) from None
    record = outcome_record(result)
    if as_json:
        out = {
            "status": result.status,
            "objective": result.objective_name,
            "objective_value": record["objective"],
            "bound": record["bound"],
            "gap": record["gap"],
            "rules_checked": result.rules_checked,
            "proof": result.proof,
            "engine": result.engine,
            "time_s": record["time_s"],
            "work": record["work"],
            "message": result.message,
            "budget_yuan": budget_yuan,
            "unit_yuan": unit_yuan,
            "allocations": result.as_dict() if found else None,
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
        if not found:
            raise typer.Exit(1)
        return
    if not found:
        raise fail(f"{result.status}: {result.message}", code=1)
    assert expl is not None
    view = Table(title=f"{budget_yuan:,} yuan by {objective} ({result.status})")
    for col in ("county", "amount (yuan)", "share of budget", "share of need", "binds"):
        view.add_column(col, justify="left" if col in ("county", "binds") else "right")
    for row in expl.rows():
        view.add_row(
            str(row["county"]),
            f"{row['amount_yuan']:,}",
            f"{row['share_of_budget']:.2%}",
            f"{row['share_of_need']:.2%}",
            str(row["binding"]),
        )
    console.print(view)
    unit_word = {"proportional": "yuan of deviation", "maxmin": "yuan per unit of need"}
    work = ", ".join(f"{k} {v}" for k, v in record["work"].items() if v not in ("", None))
    console.print(
        f"status {result.status}: objective {result.objective:,.2f} "
        f"{unit_word.get(objective, '')} (recomputed from the allocation), bound "
        f"{result.bound:,.2f}, gap {result.gap:.3g} (proof: {result.proof}); rules checked: "
        f"{'yes' if result.rules_checked else 'no'}. One more unit of budget changes it by "
        f"{_signed(expl.marginal_up)}, one less by {_signed(-expl.marginal_down)} (re-solved); "
        f"{result.runtime_s * 1000:.0f} ms, {result.engine} ({work})",
        highlight=False,
        soft_wrap=True,
    )
    if result.message:
        err_console.print(
            f"[bold yellow]note:[/] {result.message}", highlight=False, soft_wrap=True
        )


@app.command("apportion")
def apportion_cmd(
    file: Annotated[str, typer.Argument(help="CSV or XLSX: name, weight, optional floor, cap.")],
    total: Annotated[int, typer.Option("--total", help="Whole number to split.")],
    method: Annotated[
        str, typer.Option("--method", help="hamilton | webster | dhondt | huntington-hill")
    ] = "hamilton",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Split a whole-number target across regions by weight; ties are reported, not hidden."""
    import json

    from rich.table import Table

    from lnplan.optimize.apportion import ApportionProblem, apportion
    from lnplan.programs.employment_fund import read_weight_table

    try:
        table = read_weight_table(file)
        problem = ApportionProblem(table.names, table.weights, total, table.floors, table.caps)
        result = apportion(problem, method)
    except LnplanError as exc:
        raise fail(str(exc)) from None
    ties = [
        {"candidates": list(t.candidates), "seats": t.seats, "given_to": list(t.given_to)}
        for t in result.ties
    ]
    if as_json:
        typer.echo(json.dumps({"allocations": result.as_dict(), "ties": ties}, ensure_ascii=False))
        return
    view = Table(title=f"{total:,} by {result.method}")
    for col in ("name", "weight", "quota", "allocation"):
        view.add_column(col, justify="left" if col == "name" else "right")
    for i, name in enumerate(result.names):
        view.add_row(
            name,
            f"{table.weights[i]:,.6g}",
            f"{result.quotas[i]:,.3f}",
            f"{int(result.allocations[i]):,}",
        )
    console.print(view)
    for t in result.ties:
        err_console.print(f"[bold yellow]tie:[/] {t}", highlight=False, soft_wrap=True)


# --- siting: bench siting --------------------------------------------------------------------


@bench_app.command("siting")
def bench_siting_cmd(
    file: Annotated[str, typer.Argument(help="OR-Library instance file (pmed*.txt or cap*.txt).")],
    format_: Annotated[
        str, typer.Option("--format", help="orlib-pmed (p-median) or orlib-cap (capacitated).")
    ] = "orlib-pmed",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds of search.")] = 300.0,
    capacity: Annotated[
        float | None,
        typer.Option(
            "--capacity", help="orlib-cap: capacity of every site (needed for capa/capb/capc)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Solve an OR-Library p-median or capacitated facility-location instance exactly."""
    import json
    import math
    from pathlib import Path

    from lnplan.optimize.instances import read_orlib_cap, read_orlib_pmed
    from lnplan.optimize.siting import SolveParams as SitingParams
    from lnplan.optimize.siting import solve_p_median

    if format_ not in ("orlib-pmed", "orlib-cap"):
        raise fail(f"--format {format_!r} is not known; accepted: orlib-pmed, orlib-cap")
    if time_limit <= 0:
        raise fail(f"--time-limit must be > 0 seconds, got {time_limit:g}")
    if capacity is not None and format_ != "orlib-cap":
        raise fail("--capacity applies to --format orlib-cap only")
    try:
        if format_ == "orlib-pmed":
            problem = read_orlib_pmed(file)
        else:
            problem = read_orlib_cap(file, capacity=capacity)
        result = solve_p_median(problem, SitingParams(time_limit_s=time_limit, seed=seed))
    except LnplanError as exc:
        raise fail(str(exc)) from None

    def num(x: float) -> float | None:
        return round(x, 6) if math.isfinite(x) else None

    out = {
        "instance": Path(file).stem,
        "format": format_,
        "objective": num(result.objective),
        "bound": num(result.bound),
        "gap": num(result.gap),
        "status": result.status,
        "time_s": round(result.runtime_s, 3),
        "sites": int(result.chosen.size),
        "engine": result.engine,
    }
    if as_json:
        typer.echo(json.dumps(out))
        return
    console.print(
        f"{out['instance']}: objective {result.objective:,.3f}, bound {result.bound:,.3f} "
        f"(gap {result.gap:.4%}), status {result.status}, {result.runtime_s:.2f} s, "
        f"{result.chosen.size} sites, engine {result.engine}",
        highlight=False,
    )


@app.command("snapshot")
def snapshot_cmd(
    run_dir: Annotated[str, typer.Argument(help="A folder written by `lnplan run`.")],
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write A4 PDFs.")] = True,
) -> None:
    """PNG (and A4 PDF) snapshots of a run's maps into RUN_DIR/snapshots (headless Chromium)."""
    from pathlib import Path

    from lnplan.report.snapshot import snapshot_run

    try:
        written = snapshot_run(Path(run_dir), pdf=pdf)
    except LnplanError as exc:
        raise fail(str(exc)) from None
    for path in written:
        console.print(str(path), highlight=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LnplanError as exc:  # a library error a command did not catch itself
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
