"""Scenario sweeps: many variants of one scenario, run on Dask, one row per point.

A sweep varies scenario keys over a grid (``sites.p = 40, 50, ..., 120`` times
``funding.budget_yuan = 25e6, 30e6, ...``), runs every point and returns one row per point: the
varied values, whether the point ran (``ok``, ``error``) and the scalar summary of every programme
(``fitness_sites.covered_households``, ``screening_routes.children_screened``, ...).

Engine
------
The tasks run on Dask distributed:

- ``client=None``: an embedded ``LocalCluster`` with one thread per worker process and as many
  workers as physical cores (``workers=`` to change); each worker's memory limit comes from the
  measured peak of the largest task (see :func:`memory_limit_for`);
- ``client="tcp://HOST:8786"``: connect to an existing scheduler (a cluster started by
  dask-jobqueue, dask-kubernetes, ``dask scheduler`` + ``dask worker`` ...);
- ``client=<distributed.Client>``: use that client (a notebook's);
- ``client="serial"``: no Dask, the same task function in this process one after the other (for
  comparisons; the rows are the same).

What a task carries
-------------------
A task is plain data: the scenario as a JSON-able dict, reduced to the shared sections and the one
programme section it runs, plus the programme's module path. The worker validates the dict, builds
the world (memoised per worker process: the same seed, world and data give the same world) and the
model, solves it and returns a dict of scalars. No solver object crosses a process boundary. The
solvers run on one thread each (HiGHS ``threads`` and CP-SAT ``num_workers`` default to 1 in
:mod:`lnplan.optimize`; PyVRP and OR-Tools routing are single-threaded), which is each worker's
share with ``threads_per_worker=1``.

Only what changed
-----------------
A programme reads its own scenario section and the shared inputs (seed, data, world, travel,
maps). Points whose :func:`programme_task_key` is the same share one task: a sweep over
``sites.p`` solves the fund and the screening tours once, not once per point.

Faults and files
----------------
A task that raises, or whose worker dies (Dask retries it on another worker, then gives up), is
reported in the ``error`` column of every row that needs it; the other rows are unaffected. With
``out``, rows are written as their last task finishes: ``OUT/rows.parquet`` and ``OUT/rows.csv``,
each replaced atomically, so an interrupted sweep (Ctrl-C, a killed client) leaves valid files
holding the rows done so far. ``resume=True`` keeps the rows with ``ok`` true and runs the rest.
``OUT/sweep.json`` records the base scenario, the grid and the measured peak memory per task.

Reproducibility
---------------
Rows do not depend on where they ran as long as each search stops on work, not on time: set
``screening.max_iterations``; the siting MIP and the fund's CP-SAT model stop at a proven optimum
or at ``time_limit_s`` (wall clock): their rows are reproducible when the status is ``optimal``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib
import itertools
import json
import logging
import os
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lnplan.errors import LnplanError

if TYPE_CHECKING:
    from lnplan.scenario import Scenario
    from lnplan.world import World

logger = logging.getLogger(__name__)

#: Scenario sections every programme reads besides its own (the inputs of the world and travel).
SHARED_SECTIONS = ("seed", "data", "world", "travel", "maps")

#: Columns that measure where and how fast a row ran; they differ between runs of the same sweep.
TIMING_SUFFIXES = ("runtime_s", "task_s", "peak_rss_mb", "worker")

#: Summary entries not copied into rows (long labels repeated on every row).
_SKIPPED_SUMMARY = frozenset({"label", "data"})

#: Seconds to wait for a scheduler given by address.
CONNECT_TIMEOUT_S = 20

ROWS_PARQUET = "rows.parquet"
ROWS_CSV = "rows.csv"
SWEEP_JSON = "sweep.json"

Progress = Callable[[int, int], None]


class SweepError(LnplanError, ValueError):
    """A sweep that cannot start: a bad ``--vary``, or ``--resume`` of a different sweep."""


# --- the grid ------------------------------------------------------------------------------------


def _number(text: str, where: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise SweepError(f"{where}: {text!r} is not a number") from None


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``KEY=START:STOP[:STEP]`` (STOP included, STEP 1 by default) or ``KEY=a,b,c``.

    Values are read as TOML values like ``--set`` (``40``, ``2.5e7``, ``true``, ``"text"``); a
    whole number written as a float (``25e6``) becomes an int.
    """
    from lnplan.scenario import parse_override

    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise SweepError(
            f"--vary {text!r}: expected KEY=START:STOP:STEP or KEY=a,b,c, "
            "e.g. --vary sites.p=40:120:10"
        )
    spec = spec.strip()
    if ":" in spec and not spec.startswith(("'", '"', "[")):
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise SweepError(f"--vary {text!r}: a range is START:STOP or START:STOP:STEP")
        start, stop = (_number(p, f"--vary {text!r}") for p in parts[:2])
        step = _number(parts[2], f"--vary {text!r}") if len(parts) == 3 else Decimal(1)
        if step <= 0:
            raise SweepError(f"--vary {text!r}: STEP must be > 0")
        if stop < start:
            raise SweepError(f"--vary {text!r}: STOP is below START")
        n = int((stop - start) / step) + 1
        if n > 100_000:
            raise SweepError(f"--vary {text!r}: {n:,} values; at most 100,000 per key")
        return key, [_plain(start + i * step) for i in range(n)]
    values: list[Any] = []
    for item in spec.split(","):
        if not item.strip():
            raise SweepError(f"--vary {text!r}: an empty value in the list")
        _, value = parse_override(f"{key}={item.strip()}")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values.append(value)
    return key, values


def grid(vary: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the varied values, the first key varying slowest."""
    for key, values in vary.items():
        if not list(values):
            raise SweepError(f"vary {key!r}: no values")
        if not key or any(not k for k in key.split(".")):
            raise SweepError(f"vary {key!r}: the key must be a dotted path like sites.p")
    keys = list(vary)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*vary.values())]


def point_id(point: Mapping[str, Any]) -> str:
    """A stable text naming a point (``sites.p=40;funding.budget_yuan=25000000``)."""
    return ";".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in point.items())


def _tidy(value: Any) -> Any:
    """Plain Python values; a whole float (``25e6``) becomes an int, like ``--vary``."""
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _set_key(raw: dict[str, Any], key: str, value: Any) -> None:
    keys = key.split(".")
    node = raw
    for depth, k in enumerate(keys[:-1]):
        child = node.get(k)
        if child is None:
            child = node[k] = {}
        elif not isinstance(child, dict):
            raise SweepError(f"vary {key!r}: {'.'.join(keys[: depth + 1])} is a value, not a table")
        node = child
    node[keys[-1]] = value


def point_scenario(base: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, Any]:
    """The plain scenario dict of one point: ``base`` with the point's values set."""
    raw = json.loads(json.dumps(base))
    for key, value in point.items():
        _set_key(raw, key, value)
    return raw


# --- tasks -----------------------------------------------------------------------------------


def programme_task_key(raw: Mapping[str, Any], section: str) -> str:
    """Points with the same key share one solve of the programme reading ``section``.

    The key is the run cache's :func:`lnplan.cache.programme_key` (its section, the shared
    settings, the input files' contents, the seed and lnplan's version), so a sweep and
    ``lnplan run`` agree on what "unchanged" means. A point whose scenario does not validate
    gets a key of its own (its task fails and the error lands in its rows).
    """
    from lnplan import cache
    from lnplan.scenario import scenario_from_dict

    try:
        scenario = scenario_from_dict(dict(raw), source="sweep point")
    except LnplanError:
        content = {"section": section, "settings": raw.get(section)}
        content.update({s: raw.get(s) for s in SHARED_SECTIONS})
        return "invalid-" + cache.digest(json.loads(json.dumps(content, default=str)))[:20]
    return cache.programme_key(scenario, section)[:20]


def _task_scenario(raw: Mapping[str, Any], section: str) -> dict[str, Any]:
    """The point's dict without the other programme sections (they cannot fail this task)."""
    from lnplan.programs import SECTIONS

    return {k: v for k, v in raw.items() if k not in SECTIONS or k == section}


def _enabled_programmes(raw: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(module path, NAME, SECTION) of the installed programmes a point enables."""
    from lnplan.programs import available

    out = []
    for module in available():
        sec = raw.get(module.SECTION)
        if isinstance(sec, Mapping) and sec.get("enabled", True) is not False:
            out.append((module.__name__, module.NAME, module.SECTION))
    return out


_WORLDS: dict[str, World] = {}


def _world_for(scenario: Scenario) -> World:
    """The scenario's world, memoised per process (two at most) on seed, world and data."""
    from lnplan.world import build_world

    key = json.dumps(
        [
            scenario.seed,
            scenario.world.model_dump(mode="json"),
            scenario.data.model_dump(mode="json"),
        ],
        sort_keys=True,
        default=str,
    )
    world = _WORLDS.get(key)
    if world is None:
        world = build_world(scenario)
        if len(_WORLDS) >= 2:
            _WORLDS.pop(next(iter(_WORLDS)))
        _WORLDS[key] = world
    return world


def _scalar(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    return None


def solve_programme(raw: Mapping[str, Any], module_path: str) -> dict[str, Any]:
    """Run one programme on one scenario dict; return its summary as plain scalars.

    This is the task a worker runs. It builds the scenario, the world and the model itself;
    what it returns is a dict of numbers and text (no solver object). Solvers run on one thread.
    """
    from lnplan.scenario import scenario_from_dict

    start = time.perf_counter()
    scenario = scenario_from_dict(raw, source=f"sweep point ({module_path.rsplit('.', 1)[-1]})")
    world = _world_for(scenario)
    module = importlib.import_module(module_path)
    with tempfile.TemporaryDirectory(prefix="lnplan-sweep-") as tmp:
        output = module.run(scenario, world, Path(tmp))
    summary = {
        str(k): _scalar(v)
        for k, v in output.summary.items()
        if str(k) not in _SKIPPED_SUMMARY and (v is None or _scalar(v) is not None)
    }
    return {
        "summary": summary,
        "task_s": round(time.perf_counter() - start, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker": f"{os.uname().nodename}:{os.getpid()}",
    }


# --- resources -------------------------------------------------------------------------------


def physical_cores() -> int:
    """Physical cores of this machine (logical ones when that cannot be told)."""
    import psutil

    return int(psutil.cpu_count(logical=False) or os.cpu_count() or 1)


def memory_limit_for(peak_mb: float | None, workers: int) -> int:
    """Bytes of memory a worker may use.

    With a measured peak (the largest task's peak resident memory, from ``sweep.json`` of an
    earlier run of the same sweep): twice that, at least 1 GiB (Python, the world and a model
    build at once, with room for the heap to grow), and no more than the machine's share per
    worker. Without one: the machine's memory shared equally between the workers.
    """
    import psutil

    share = int(psutil.virtual_memory().total / max(workers, 1))
    if peak_mb is None:
        return share
    return int(min(max(2 * peak_mb * 2**20, 2**30), share))


# --- files -----------------------------------------------------------------------------------


def _arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of one type each (mixed object columns become text) so Parquet can hold them."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype != object:
            continue
        kinds = {type(v) for v in out[col] if v is not None and not pd.isna(v)}
        if len(kinds) > 1 or (kinds and not kinds <= {str, bool}):
            out[col] = [None if v is None or pd.isna(v) else str(v) for v in out[col]]
    return out


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    _write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_rows(rows: pd.DataFrame, out: Path) -> None:
    """Write ``rows.parquet`` and ``rows.csv`` in ``out``, each replaced whole."""
    out.mkdir(parents=True, exist_ok=True)
    safe = _arrow_safe(rows)
    _write_atomic(out / ROWS_PARQUET, lambda p: safe.to_parquet(p, index=False))
    _write_atomic(out / ROWS_CSV, lambda p: rows.to_csv(p, index=False, encoding="utf-8"))


def read_rows(out: Path | str) -> pd.DataFrame:
    """The rows a sweep wrote into ``out`` (empty when there are none)."""
    path = Path(out) / ROWS_PARQUET
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def comparable(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows without the columns that measure time, memory and place (for comparing runs)."""
    keep = [c for c in rows.columns if not str(c).endswith(TIMING_SUFFIXES)]
    return rows[keep].sort_values("index").reset_index(drop=True)


# --- progress ----------------------------------------------------------------------------------


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    ip = get() if callable(get) else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


@contextlib.contextmanager
def _progress(progress: Progress | str | None, total: int) -> Iterator[Progress]:
    """``"auto"``: tqdm in a notebook or a terminal, nothing otherwise; a callable is called."""
    if callable(progress):
        yield progress
        return
    if progress == "auto" and (_in_notebook() or sys.stderr.isatty()):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="sweep", unit="task")
        try:
            yield lambda done, _total: bar.update(done - bar.n)
        finally:
            bar.close()
        return
    yield lambda done, _total: None


# --- the sweep -------------------------------------------------------------------------------


@contextlib.contextmanager
def _executor(client: Any, workers: int, memory_limit: int) -> Iterator[Any]:
    """A Dask client (or None for serial): embedded cluster, scheduler address or given."""
    if isinstance(client, str) and client == "serial":
        yield None
        return
    if client is not None and not isinstance(client, str):
        yield client
        return
    from distributed import Client, LocalCluster

    if isinstance(client, str):
        try:
            c = Client(client, timeout=f"{CONNECT_TIMEOUT_S}s")
        except OSError as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {client}: {exc}") from None
        try:
            yield c
        finally:
            c.close()
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _base_dict(scenario: Scenario | str | Path | Mapping[str, Any]) -> dict[str, Any]:
    from lnplan.scenario import Scenario, load_scenario

    if isinstance(scenario, str | Path):
        scenario = load_scenario(scenario)
    if isinstance(scenario, Scenario):
        return json.loads(json.dumps(scenario.model_dump(mode="json")))
    return json.loads(json.dumps(dict(scenario), default=str))


def _fingerprint(base: Mapping[str, Any], vary: Mapping[str, Sequence[Any]]) -> str:
    text = json.dumps({"base": base, "vary": {k: list(v) for k, v in vary.items()}}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, LnplanError):
        return f"{type(exc).__name__}: {exc}"
    try:
        text = str(exc)
    except Exception:  # an exception whose message cannot be made
        text = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return f"{type(exc).__name__}: {text}"[:2000]


def sweep(
    scenario: Scenario | str | Path | Mapping[str, Any],
    vary: Mapping[str, Sequence[Any]],
    client: Any = None,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    memory_limit: int | None = None,
    resume: bool = False,
    progress: Progress | str | None = "auto",
    charts: bool = True,
) -> pd.DataFrame:
    """Run every point of the grid ``vary`` over ``scenario``; one row per point.

    Parameters
    ----------
    scenario
        A :class:`lnplan.scenario.Scenario`, a scenario file, or a scenario dict.
    vary
        Scenario key -> values, e.g. ``{"sites.p": range(40, 121, 10)}``; a grid over all keys.
    client
        ``None`` (embedded ``LocalCluster``), a scheduler address, a ``distributed.Client``, or
        ``"serial"`` (this process, no Dask).
    out
        Folder for ``rows.parquet``, ``rows.csv``, ``sweep.json`` and the charts; rows are
        written as they finish.
    workers, memory_limit
        The embedded cluster's worker processes (default: physical cores) and bytes per worker
        (default: :func:`memory_limit_for` the peak measured by an earlier run in ``out``).
    resume
        Keep the rows of ``out`` that ran (``ok``) and run only the others.
    progress
        ``"auto"`` (tqdm in a notebook or terminal), ``None``, or ``callable(done, total)``.
    charts
        Write the trade-off charts (PNG and HTML) into ``out`` at the end.

    Returns
    -------
    pandas.DataFrame
        ``index``, ``point``, one column per varied key, ``ok``, ``error``, then
        ``<programme>.<summary key>`` for every programme, ``<programme>.task_s``,
        ``peak_rss_mb`` and ``worker``.
    """
    base = _base_dict(scenario)
    vary = {k: [_tidy(v) for v in values] for k, values in vary.items()}
    if not vary:
        raise SweepError("nothing to vary: give at least one --vary KEY=VALUES")
    _check_keys(vary)
    points = grid(vary)
    out_dir = Path(out) if out is not None else None
    fingerprint = _fingerprint(base, vary)
    meta: dict[str, Any] = {"fingerprint": fingerprint, "vary": vary, "points": len(points)}
    done_rows = pd.DataFrame()
    known_peak: float | None = None
    if out_dir is not None and (out_dir / SWEEP_JSON).is_file():
        old = json.loads((out_dir / SWEEP_JSON).read_text(encoding="utf-8"))
        known_peak = old.get("peak_rss_mb")
        if resume:
            if old.get("fingerprint") != fingerprint:
                raise SweepError(
                    f"--resume: {out_dir} holds a sweep of another scenario or grid; use a new "
                    "--out folder or drop --resume"
                )
            previous = read_rows(out_dir)
            if not previous.empty:
                done_rows = previous[previous["ok"].astype(bool)]
    elif resume and out_dir is not None:
        logger.info("--resume: no earlier sweep in %s; running every point", out_dir)
    skip = set(done_rows["point"]) if not done_rows.empty else set()

    # Tasks: one per distinct (programme, key) among the points still to run.
    raws = {i: point_scenario(base, p) for i, p in enumerate(points)}
    todo = [i for i, p in enumerate(points) if point_id(p) not in skip]
    tasks: dict[str, tuple[dict[str, Any], str, str]] = {}  # task key -> (raw, module, name)
    needs: dict[int, list[str]] = {}
    for i in todo:
        needs[i] = []
        for module_path, name, section in _enabled_programmes(raws[i]):
            key = f"{name}-{programme_task_key(raws[i], section)}"
            tasks.setdefault(key, (_task_scenario(raws[i], section), module_path, name))
            needs[i].append(key)
    logger.info(
        "sweep: %d points (%d to run), %d programme tasks", len(points), len(todo), len(tasks)
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        meta.update(base_scenario=base.get("name"), started=dt.datetime.now(dt.UTC).isoformat())
        _write_json(out_dir / SWEEP_JSON, meta)

    results: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = (
        [] if done_rows.empty else done_rows.to_dict("records")  # type: ignore[assignment]
    )
    pending = set(todo)

    def frame() -> pd.DataFrame:
        df = pd.DataFrame(rows)
        return df.sort_values("index").reset_index(drop=True) if not df.empty else df

    def finish(task_key: str) -> None:
        ready = [i for i in sorted(pending) if all(k in results for k in needs[i])]
        for i in ready:
            pending.discard(i)
            rows.append(_row(i, points[i], [results[k] for k in needs[i]]))
        if ready and out_dir is not None:
            write_rows(frame(), out_dir)

    if not todo and out_dir is not None and not done_rows.empty:
        write_rows(frame(), out_dir)
    n_workers = workers or physical_cores()
    limit = memory_limit or memory_limit_for(known_peak, n_workers)
    with (
        _progress(progress, len(tasks)) as tick,
        _executor(client, n_workers, limit) as dask_client,
    ):
        n_done = 0
        tick(0, len(tasks))
        if dask_client is None:
            for key, (raw, module_path, name) in tasks.items():
                results[key] = _run_one(name, functools.partial(solve_programme, raw, module_path))
                finish(key)
                n_done += 1
                tick(n_done, len(tasks))
        else:
            from distributed import as_completed

            futures = {}
            for key, (raw, module_path, name) in tasks.items():
                fut = dask_client.submit(
                    solve_programme, raw, module_path, key=f"lnplan-sweep-{key}", pure=False
                )
                futures[fut] = (key, name)
            try:
                for fut in as_completed(list(futures)):
                    key, name = futures[fut]
                    results[key] = _run_one(name, fut.result)
                    fut.release()
                    finish(key)
                    n_done += 1
                    tick(n_done, len(tasks))
            except BaseException:
                dask_client.cancel(list(futures))
                raise
    df = frame()
    if out_dir is not None and not df.empty:
        peaks = pd.to_numeric(df["peak_rss_mb"], errors="coerce")
        meta.update(
            finished=dt.datetime.now(dt.UTC).isoformat(),
            peak_rss_mb=None if peaks.isna().all() else float(peaks.max()),
            rows_ok=int(df["ok"].sum()),
        )
        _write_json(out_dir / SWEEP_JSON, meta)
        if charts:
            from lnplan.sweep_charts import write_charts

            language = str(base.get("maps", {}).get("language", "zh"))
            df.attrs["charts"] = [
                str(p) for p in write_charts(df, list(vary), out_dir, language=language)
            ]
    return df


def _check_keys(vary: Mapping[str, Any]) -> None:
    """An unknown scenario key stops the sweep before it starts (not one error per row)."""
    from lnplan.scenario import _accepted_keys

    for key in vary:
        parts = key.split(".")
        accepted = _accepted_keys(parts[:-1])
        if accepted and parts[-1] not in accepted:
            where = ".".join(parts[:-1]) or "the top level"
            raise SweepError(
                f"vary {key!r}: {parts[-1]!r} is not a scenario key; accepted keys in {where}: "
                f"{', '.join(accepted)}"
            )


def _run_one(name: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A task's result, or its error as a result (``KilledWorker`` included)."""
    try:
        result = call()
    except Exception as exc:
        logger.info("sweep task %s failed: %s", name, exc)
        return {"name": name, "error": _error_text(exc)}
    return {"name": name, **result}


def _row(index: int, point: Mapping[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"index": index, "point": point_id(point), **point}
    errors = [f"{p['name']}: {p['error']}" for p in parts if "error" in p]
    row["ok"] = not errors
    row["error"] = "; ".join(errors)
    peaks = [p["peak_rss_mb"] for p in parts if "peak_rss_mb" in p]
    for p in parts:
        for k, v in p.get("summary", {}).items():
            row[f"{p['name']}.{k}"] = v
        for k in ("task_s", "peak_rss_mb", "worker"):
            if k in p:
                row[f"{p['name']}.{k}"] = p[k]
    row["peak_rss_mb"] = max(peaks) if peaks else None
    row["worker"] = ",".join(sorted({p["worker"] for p in parts if "worker" in p}))
    return row


def parse_vary_options(items: Sequence[str]) -> dict[str, list[Any]]:
    """Parse repeated ``--vary`` options into a grid mapping (a key at most once)."""
    vary: dict[str, list[Any]] = {}
    for text in items:
        key, values = parse_vary(text)
        if key in vary:
            raise SweepError(f"--vary {key}: given twice; put all its values in one --vary")
        vary[key] = values
    return vary


__all__ = [
    "SweepError",
    "comparable",
    "grid",
    "memory_limit_for",
    "parse_vary",
    "parse_vary_options",
    "physical_cores",
    "point_id",
    "programme_task_key",
    "read_rows",
    "solve_programme",
    "sweep",
]
