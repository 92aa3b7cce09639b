"""Running a scenario end to end, and writing output folders whole or not at all.

:func:`run_scenario` loads nothing itself: it takes a validated scenario, builds the world, runs
every enabled programme (:mod:`lnplan.programs`), and writes into the output folder:

- ``scenario.json`` — the resolved scenario (every default filled in, paths absolute);
- ``world_summary.csv`` — counts per city (households, persons, townships, children, candidates,
  facilities, counties); counts under 5 are blanked (privacy);
- ``world/world.gpkg`` — the shareable world layers: townships (no household counts; children
  counts under 5 blanked), candidates, facilities, county indicators, and ``household_cells``
  (households per grid cell, small cells merged: :func:`lnplan.geo.aggregate.shareable_cells`);
- ``<programme>/...`` — each programme's tables and layers;
- maps: if :mod:`lnplan.maps` provides ``write_run_maps(scenario, world, outputs, out_dir)``
  (returning the paths it wrote), it is called last; otherwise no map is written;
- ``run.json`` — manifest: scenario name, seed, programmes run, enabled sections without a
  programme yet, files written, the synthetic-data label.

No household-level layer is ever written by a run (personal data): ``lnplan world`` writes them,
clearly separated, in ``private/``.

Whole or not at all: everything is written into a temporary folder next to the output folder,
which replaces the output folder by renames only once complete. An existing output folder is
replaced only if it is empty or was written by lnplan (it holds :data:`MARKER`).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lnplan import __version__
from lnplan.errors import InputError
from lnplan.geo.aggregate import suppress_small_counts
from lnplan.programs import ProgrammeOutput, missing_sections, run_enabled
from lnplan.report.tables import write_outputs
from lnplan.scenario import Scenario
from lnplan.world import World, build_world

logger = logging.getLogger(__name__)

#: File that marks a folder as written by lnplan (and so safe to replace).
MARKER = ".lnplan-output"


@contextmanager
def atomic_output_dir(out_dir: Path | str) -> Iterator[Path]:
    """Yield a temporary folder next to ``out_dir``; on success it replaces ``out_dir``.

    Raises
    ------
    InputError
        ``out_dir`` exists and is a file, or a non-empty folder not written by lnplan.
    """
    out = Path(out_dir).resolve()
    if out.exists():
        if not out.is_dir():
            raise InputError(f"--out {out} is a file; expected a folder")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise InputError(
                f"--out {out} is a non-empty folder not written by lnplan; choose another "
                "folder or empty it (lnplan only replaces its own output folders)"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0o022)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; give it a normal folder's mode
    try:
        yield tmp
        (tmp / MARKER).write_text(f"written by lnplan {__version__}\n", encoding="utf-8")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.{os.getpid()}.old")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    out_dir: Path
    outputs: tuple[ProgrammeOutput, ...]
    summary: pd.DataFrame
    missing_sections: tuple[str, ...]
    files: tuple[Path, ...]


def shareable_world_layers(world: World, *, min_households: int, cell_km: float) -> dict:
    """World layers fit for sharing: no household rows, no count under ``min_households``."""
    from lnplan.geo.aggregate import shareable_cells
    from lnplan.geo.synth import shareable_layers

    layers = shareable_layers(world)
    towns = layers["townships"].drop(columns=["households"])
    layers["townships"] = suppress_small_counts(towns, ["children_8_14"], minimum=min_households)
    cells = shareable_cells(
        world.households,
        by="grid",
        cell_km=cell_km,
        min_households=min_households,
        value_columns=["persons", "low_income"],
    )
    cells["synthetic"] = world.synthetic
    layers["household_cells"] = cells
    return layers


def write_world_folder(world: World, out_dir: Path | str, *, cell_km: float = 2.0) -> list[Path]:
    """``lnplan world``: ``world.gpkg`` (shareable layers), ``world_summary.csv`` and
    ``private/households.gpkg`` (one point per household: personal data, never to be shared),
    written whole or not at all."""
    from lnplan.geo.aggregate import MIN_HOUSEHOLDS
    from lnplan.geo.synth import write_gpkg

    layers = shareable_world_layers(world, min_households=MIN_HOUSEHOLDS, cell_km=cell_km)
    with atomic_output_dir(out_dir) as tmp:
        write_gpkg(layers, tmp / "world.gpkg")
        world.summary().to_csv(tmp / "world_summary.csv", index=False, encoding="utf-8")
        private = tmp / "private"
        write_gpkg({"households": world.households}, private / "households.gpkg")
        (private / "README.txt").write_text(
            "PERSONAL DATA - DO NOT SHARE. One point per household of a severely disabled "
            "person.\nShare only aggregates (world.gpkg, lnplan.geo.aggregate.shareable_cells), "
            "never this folder.\n" + (f"{world.label}\n" if world.label else ""),
            encoding="utf-8",
        )
    out = Path(out_dir).resolve()
    return [
        out / "world.gpkg",
        out / "world_summary.csv",
        out / "private" / "households.gpkg",
        out / "private" / "README.txt",
    ]


def run_scenario(
    scenario: Scenario,
    out_dir: Path | str,
    *,
    on_step: Callable[[str], None] | None = None,
) -> RunResult:
    """Build the world, run the enabled programmes and write everything to ``out_dir``.

    ``on_step(text)`` is told what starts next (building the world, each programme, maps).
    """
    step = on_step or (lambda text: None)
    step("building the world")
    from lnplan.geo.synth import write_gpkg

    world = build_world(scenario)
    minimum = scenario.maps.min_cell_households
    summary = world.summary()
    count_cols = [c for c in summary.columns if c not in ("city_code", "city")]
    shown_summary = suppress_small_counts(
        summary, ["households", "persons", "children_8_14"], minimum=minimum
    )
    missing = tuple(missing_sections(scenario))
    for section in missing:
        logger.info("scenario enables %s but no programme for it is installed yet", section)
    with atomic_output_dir(out_dir) as tmp:
        files: list[Path] = []
        file_names: list[str] = []
        (tmp / "scenario.json").write_text(scenario.to_json(), encoding="utf-8")
        shown_summary.to_csv(tmp / "world_summary.csv", index=False, encoding="utf-8")
        cell_km = scenario.sites.grid_cell_km if scenario.sites else 2.0
        layers = shareable_world_layers(world, min_households=minimum, cell_km=cell_km)
        write_gpkg(layers, tmp / "world" / "world.gpkg")
        files += [tmp / "scenario.json", tmp / "world_summary.csv", tmp / "world" / "world.gpkg"]
        outputs = run_enabled(scenario, world, tmp, on_start=lambda name: step(f"programme {name}"))
        files += write_outputs(scenario, outputs, tmp)  # tables, workbook, GeoPackage
        maps = importlib.import_module("lnplan.maps")
        hook = getattr(maps, "write_run_maps", None)
        if hook is not None:
            step("maps")
            files += [Path(p) for p in hook(scenario, world, outputs, tmp)]
        file_names += sorted(str(p.relative_to(tmp)) for p in files)
        manifest = {
            "lnplan_version": __version__,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "synthetic": world.synthetic,
            "label": world.label,
            "programmes": [o.name for o in outputs],
            "summaries": {o.name: _jsonable(dict(o.summary)) for o in outputs},
            "enabled_without_programme": list(missing),
            "world_totals": {c: int(summary[c].iloc[-1]) for c in count_cols},
            "files": file_names,
        }
        (tmp / "run.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    out = Path(out_dir).resolve()
    final = (*(out / p for p in file_names), out / "run.json")
    return RunResult(
        out_dir=out,
        outputs=tuple(outputs),
        summary=summary,
        missing_sections=missing,
        files=final,
    )


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
