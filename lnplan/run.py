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
import inspect
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import warnings as _warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from lnplan import __version__, cache
from lnplan.errors import InputError
from lnplan.geo.aggregate import suppress_small_counts
from lnplan.programs import ProgrammeOutput, enabled, missing_sections
from lnplan.report.tables import write_output, write_run_deliverables
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
class ProgrammeRun:
    """How one programme's output was obtained in a run."""

    name: str
    key: str
    outcome: str  # "solved" or "reused"
    reused_from: str | None
    time_s: float

    def record(self, output: ProgrammeOutput) -> dict[str, Any]:
        """The manifest entry: outcome, key, where it was reused from, time, model records."""
        return {
            "outcome": self.outcome if self.reused_from is None else "reused",
            "reused_from": self.reused_from,
            "key": self.key,
            "time_s": round(self.time_s, 3),
            "models": _jsonable(dict(output.models)),
        }


@dataclass(frozen=True)
class RunResult:
    """What a run produced (``out_dir`` is None when nothing was written)."""

    out_dir: Path | None
    outputs: tuple[ProgrammeOutput, ...]
    summary: pd.DataFrame
    missing_sections: tuple[str, ...]
    files: tuple[Path, ...]
    world: World | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    runs: tuple[ProgrammeRun, ...] = ()
    warnings: tuple[str, ...] = ()


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


class SafetyCapWarning(UserWarning):
    """A search stopped at its wall-clock safety cap (its answer may vary with the load)."""


#: Packages whose versions the manifest records.
RECORDED_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "ortools",
    "pyvrp",
    "highspy",
    "folium",
    "pydantic",
    "h3",
    "pyarrow",
)

#: Steps reported to ``on_step`` besides one per programme: the world, and writing (with out).
WORLD_STEP = "building the world"
WRITE_STEP = "writing outputs"


def environment() -> dict[str, Any]:
    """Python, platform and the versions of the packages that shape the results."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    packages: dict[str, str | None] = {"lnplan": __version__}
    for name in RECORDED_PACKAGES:
        try:
            packages[name] = package_version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": packages,
    }


def _world_key(scenario: Scenario) -> str:
    material = cache.key_material(scenario, "sites")
    for k in ("programme", "section"):
        material.pop(k)
    material["shared"] = {k: v for k, v in material["shared"].items() if k in ("world", "data")}
    return cache.digest(material)


def _world_files_key(scenario: Scenario) -> str:
    cell_km = scenario.sites.grid_cell_km if scenario.sites else 2.0
    return cache.digest(
        {
            "world": _world_key(scenario),
            "min_cell_households": scenario.maps.min_cell_households,
            "cell_km": cell_km,
        }
    )


def _previous_run(out_dir: Path | str | None) -> Path | None:
    """``out_dir`` if it holds an earlier lnplan run (its cache may be reused)."""
    if out_dir is None:
        return None
    out = Path(out_dir).resolve()
    return out if (out / MARKER).is_file() else None


def _get_world(scenario: Scenario, previous: Path | None, fresh: bool) -> tuple[World, str]:
    """The scenario's world and where it came from ("built", "memory" or a run folder)."""
    key = _world_key(scenario)
    if not fresh:
        world = cache.load_world_from_memory(key)
        if world is not None:
            return world, "memory"
        if previous is not None:
            world = cache.load_world_from_disk(previous, key)
            if world is not None:
                cache.save_world_to_memory(key, world)
                return world, str(previous)
    world = build_world(scenario)
    cache.save_world_to_memory(key, world)
    return world, "built"


def _time_cap_warnings(
    scenario: Scenario, module: ModuleType, output: ProgrammeOutput, elapsed_s: float
) -> list[str]:
    """Warnings for models that stopped at the wall-clock cap (their answer may vary by load)."""
    section = getattr(scenario, module.SECTION)
    limit = getattr(section, "time_limit_s", None)
    if limit is None:
        return []
    warnings = []
    records = dict(output.models) or {"": {"time_s": output.summary.get("runtime_s")}}
    for name, record in records.items():
        time_s = record.get("time_s")
        if time_s is None or float(time_s) < 0.95 * float(limit):
            continue
        what = f"{module.NAME}" + (f" ({name})" if name else "")
        warnings.append(
            f"{what} stopped at the wall-clock safety cap {module.SECTION}.time_limit_s = "
            f"{limit:g} s: its answer may differ on a busier or faster machine; raise "
            f"{module.SECTION}.time_limit_s or set a work limit so that the search ends first"
        )
    return warnings


def run_scenario(
    scenario: Scenario,
    out_dir: Path | str | None,
    *,
    on_step: Callable[[str], None] | None = None,
    fresh: bool = False,
    baseline: Path | str | None = None,
) -> RunResult:
    """Build the world, run the enabled programmes and (with ``out_dir``) write everything.

    Parameters
    ----------
    scenario
        A validated scenario.
    out_dir
        The run folder, written whole or not at all; None writes nothing.
    on_step
        Told what starts next: :data:`WORLD_STEP`, ``"programme <NAME>"`` per programme,
        :data:`WRITE_STEP` (only with ``out_dir``).
    fresh
        Solve every programme again, ignoring cached outputs (in ``out_dir`` and in memory).
    baseline
        An earlier run folder whose plan should change as little as possible
        (:mod:`lnplan.stability`, within each section's ``stability.max_loss``).

    A programme whose :func:`lnplan.cache.programme_key` matches an output cached in the
    previous contents of ``out_dir`` (or, in this process, in memory) is reused, not solved.
    """
    step = on_step or (lambda text: None)
    previous = None if fresh else _previous_run(out_dir)
    step(WORLD_STEP)
    world, world_from = _get_world(scenario, previous, fresh)
    summary = world.summary()
    missing = tuple(missing_sections(scenario))
    for section in missing:
        logger.info("scenario enables %s but no programme for it is installed yet", section)
    base = None
    if baseline is not None:
        from lnplan.stability import load_baseline

        base = load_baseline(baseline)
    outputs: list[ProgrammeOutput] = []
    runs: list[ProgrammeRun] = []
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lnplan-run-") as scratch:
        for module in enabled(scenario):
            step(f"programme {module.NAME}")
            key = cache.programme_key(scenario, module.NAME)
            started = time.perf_counter()
            output, source = None, None
            # Only lnplan's own programmes are cached: the key fingerprints lnplan's code.
            cacheable = module.__name__.startswith("lnplan.")
            # With a baseline, only a programme whose inputs are the baseline's own is reused:
            # a plain answer to changed inputs must not stand in for the plan held to it.
            unchanged = base is None or base.keys.get(module.NAME) == key
            if not fresh and cacheable and unchanged:
                # With a baseline, its own output first: it is the plan to keep.
                for folder in (base.run_dir if base is not None else None, previous):
                    if output is None and folder is not None:
                        output = cache.load_from_disk(folder, module.NAME, key)
                        source = str(folder)
                if output is None:
                    output, source = cache.load_from_memory(key), "memory"
            if output is None:
                source = None
                folder = Path(scratch) / module.NAME
                folder.mkdir(parents=True, exist_ok=True)
                logger.info("running programme %s", module.NAME)
                if base is not None:
                    from lnplan.stability import run_stable

                    output = run_stable(module, scenario, world, folder, base)
                    # Held to a baseline: not the plain answer, so not under the plain key.
                    key = cache.digest({"key": key, "baseline": base.fingerprint(scenario)})
                else:
                    output = module.run(scenario, world, folder)
                if not isinstance(output, ProgrammeOutput):
                    raise TypeError(f"programme {module.NAME} returned {type(output).__name__}")
                if base is None and cacheable:
                    cache.save_to_memory(key, output)
                warnings += _time_cap_warnings(
                    scenario, module, output, time.perf_counter() - started
                )
            else:
                logger.info("programme %s reused from %s (key %s)", module.NAME, source, key[:12])
                if base is not None:
                    from lnplan.stability import report_reused

                    output = report_reused(module, base, output)
            outputs.append(output)
            runs.append(
                ProgrammeRun(
                    name=module.NAME,
                    key=key,
                    outcome="reused" if source else "solved",
                    reused_from=source,
                    time_s=time.perf_counter() - started,
                )
            )
    for text in warnings:
        logger.info("%s", text)
        _warnings.warn(text, SafetyCapWarning, stacklevel=2)
    manifest = _manifest(scenario, world, summary, outputs, runs, missing, warnings, base)
    manifest["world_from"] = world_from
    if out_dir is None:
        return RunResult(
            out_dir=None,
            outputs=tuple(outputs),
            summary=summary,
            missing_sections=missing,
            files=(),
            world=world,
            manifest=manifest,
            runs=tuple(runs),
            warnings=tuple(warnings),
        )
    step(WRITE_STEP)
    file_names = _write_run(scenario, world, summary, outputs, runs, manifest, out_dir, previous)
    out = Path(out_dir).resolve()
    return RunResult(
        out_dir=out,
        outputs=tuple(outputs),
        summary=summary,
        missing_sections=missing,
        files=(*(out / p for p in file_names), out / "run.json"),
        world=world,
        manifest=manifest,
        runs=tuple(runs),
        warnings=tuple(warnings),
    )


def _manifest(
    scenario: Scenario,
    world: World,
    summary: pd.DataFrame,
    outputs: Sequence[ProgrammeOutput],
    runs: Sequence[ProgrammeRun],
    missing: Sequence[str],
    warnings: Sequence[str],
    base: Any,
) -> dict[str, Any]:
    count_cols = [c for c in summary.columns if c not in ("city_code", "city")]
    files = cache.input_files(scenario)
    hashes = cache.input_hashes(scenario)
    manifest: dict[str, Any] = {
        "lnplan_version": __version__,
        "lnplan_code_sha256": cache.code_fingerprint(),
        "scenario": scenario.name,
        "seed": scenario.seed,
        "synthetic": world.synthetic,
        "label": world.label,
        "programmes": [o.name for o in outputs],
        "programme_runs": {r.name: r.record(o) for r, o in zip(runs, outputs, strict=True)},
        "summaries": {o.name: _jsonable(dict(o.summary)) for o in outputs},
        "enabled_without_programme": list(missing),
        "world_totals": {c: int(summary[c].iloc[-1]) for c in count_cols},
        "warnings": list(warnings),
        "inputs": {
            name: {"path": str(files[name]), "sha256": digest} for name, digest in hashes.items()
        },
        "environment": environment(),
        "resolved_scenario": scenario.model_dump(mode="json"),
    }
    if base is not None:
        manifest["baseline"] = _jsonable(base.describe())
    return manifest


def _write_run(
    scenario: Scenario,
    world: World,
    summary: pd.DataFrame,
    outputs: Sequence[ProgrammeOutput],
    runs: Sequence[ProgrammeRun],
    manifest: dict[str, Any],
    out_dir: Path | str,
    previous: Path | None,
) -> list[str]:
    """Write the run folder whole or not at all; returns the files written (relative)."""
    from lnplan.geo.synth import write_gpkg

    minimum = scenario.maps.min_cell_households
    shown_summary = suppress_small_counts(
        summary, ["households", "persons", "children_8_14"], minimum=minimum
    )
    files_key = _world_files_key(scenario)
    with atomic_output_dir(out_dir) as tmp:
        files: list[Path] = []
        (tmp / "scenario.json").write_text(scenario.to_json(), encoding="utf-8")
        shown_summary.to_csv(tmp / "world_summary.csv", index=False, encoding="utf-8")
        world_gpkg = tmp / "world" / "world.gpkg"
        if not _copy_world_files(previous, tmp, files_key):
            cell_km = scenario.sites.grid_cell_km if scenario.sites else 2.0
            layers = shareable_world_layers(world, min_households=minimum, cell_km=cell_km)
            write_gpkg(layers, world_gpkg)
        files += [tmp / "scenario.json", tmp / "world_summary.csv", world_gpkg]
        same_formats = _previous_formats(previous) == list(scenario.output.formats)
        copied: list[str] = []
        for output, run in zip(outputs, runs, strict=True):
            if same_formats and previous is not None and run.reused_from == str(previous):
                # Reused from this folder: its files (tables, layers, map) are copied, not redrawn.
                files += _copy_programme_folder(previous, tmp, output.name)
                copied.append(output.name)
            else:
                files += write_output(
                    output, tmp / output.name, formats=list(scenario.output.formats)
                )
            cache.save_to_disk(tmp, output, run.key)
        files += write_run_deliverables(scenario, outputs, tmp)  # workbook, GeoPackage
        cache.save_world_files_key(tmp, files_key)
        if world.households.attrs.get("synthetic", False):
            cache.save_world_to_disk(tmp, _world_key(scenario), world)
        maps = importlib.import_module("lnplan.maps")
        hook = getattr(maps, "write_run_maps", None)
        if hook is not None:
            keep = {"keep": copied} if "keep" in inspect.signature(hook).parameters else {}
            files += [Path(p) for p in hook(scenario, world, outputs, tmp, **keep)]
        files = list(dict.fromkeys(files))
        file_names = sorted(str(p.relative_to(tmp)) for p in files)
        manifest["files"] = file_names
        (tmp / "run.json").write_text(
            json.dumps(_jsonable(manifest), ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
    return file_names


def _previous_formats(previous: Path | None) -> list[str] | None:
    """The output formats of the run in ``previous`` (from its run.json), if known."""
    if previous is None:
        return None
    try:
        manifest = json.loads((previous / "run.json").read_text(encoding="utf-8"))
        return list(manifest["resolved_scenario"]["output"]["formats"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _copy_programme_folder(previous: Path, tmp: Path, name: str) -> list[Path]:
    """Copy ``previous/<name>`` (a reused programme's files) into the new run folder."""
    target = tmp / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(previous / name, target)
    return sorted(p for p in target.rglob("*") if p.is_file() and p.name != "map.html")


def _copy_world_files(previous: Path | None, tmp: Path, files_key: str) -> bool:
    """Copy ``world/world.gpkg`` from the previous run when it was made from the same world."""
    if previous is None or cache.load_world_files_key(previous) != files_key:
        return False
    source = previous / "world" / "world.gpkg"
    if not source.is_file():
        return False
    (tmp / "world").mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, tmp / "world" / "world.gpkg")
    return True


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
