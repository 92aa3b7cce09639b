"""Per-programme cache: re-solve only the programmes whose inputs changed.

A programme's result (its :class:`lnplan.programs.ProgrammeOutput`) is stored under a key that
hashes everything the programme reads (:func:`programme_key`):

- its scenario section (``sites``, ``funding`` or ``screening``), every default filled in;
- the shared settings it reads: ``world``, ``travel``, ``maps`` and ``data`` (file paths replaced
  by the SHA-256 of the file's contents, so moving a checkout keeps the cache);
- the contents of every input file (the ``data`` files and the boundary files);
- the world's seed;
- lnplan's version and a fingerprint of lnplan's own source files (a development checkout keeps
  its version number while its code changes).

Two stores use the key:

- on disk, in the run folder: ``<out>/.cache/<programme>.pkl`` (pickle of the output and its key;
  read only from folders lnplan wrote, which carry :data:`lnplan.run.MARKER`);
- in memory, for ``lnplan.run(scenario)`` without an output folder (notebooks): the last
  :data:`MEMORY_SIZE` outputs of this Python process.

Changing ``funding.budget_yuan`` changes the key of the employment fund alone, so the sites and
the tours are reused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lnplan import __version__

if TYPE_CHECKING:
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import Scenario
    from lnplan.world import World

logger = logging.getLogger(__name__)

#: Folder of a run folder that holds the cached programme outputs.
CACHE_DIR = ".cache"

#: Scenario section of each programme, by programme name.
SECTION_OF: dict[str, str] = {
    "fitness_sites": "sites",
    "employment_fund": "funding",
    "screening_routes": "screening",
}

#: Shared scenario sections every programme reads.
SHARED_SECTIONS = ("world", "travel", "maps", "data")

#: How many programme outputs the in-memory cache keeps.
MEMORY_SIZE = 24

_memory: OrderedDict[str, ProgrammeOutput] = OrderedDict()
_worlds: OrderedDict[str, World] = OrderedDict()

#: How many worlds the in-memory cache keeps (a province-size world takes ~200 MB).
WORLDS_IN_MEMORY = 2


def file_sha256(path: Path | str) -> str:
    """SHA-256 (hex) of a file's contents, remembered while its size and mtime are unchanged."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_cached(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_files(scenario: Scenario) -> dict[str, Path]:
    """Every input file a run reads, by a stable name (``data.townships``, ``boundaries/...``)."""
    from lnplan.geo.boundaries import boundaries_dir

    files: dict[str, Path] = {}
    data = scenario.data
    for key in ("targets", "priority_counties", "city_population", "townships", "county_terrain"):
        files[f"data.{key}"] = Path(getattr(data, key))
    for key in ("households", "facilities", "candidates", "travel_matrix"):
        source = getattr(data, key)
        if source is not None:
            files[f"data.{key}"] = Path(source.path)
    folder = Path(data.boundaries) if data.boundaries is not None else boundaries_dir()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in (".geojson", ".csv", ".json"):
            files[f"boundaries/{path.name}"] = path
    return files


def input_hashes(scenario: Scenario) -> dict[str, str]:
    """SHA-256 of every input file of :func:`input_files`, by the same names."""
    return {name: file_sha256(path) for name, path in input_files(scenario).items()}


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over lnplan's own ``.py`` files (names and contents)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _section_name(programme: str) -> str:
    if programme in SECTION_OF:
        return SECTION_OF[programme]
    if programme in SECTION_OF.values():
        return programme
    from lnplan.programs import available

    for module in available():
        if programme == module.NAME:
            return str(module.SECTION)
    raise KeyError(
        f"unknown programme {programme!r}; known: {', '.join(sorted(SECTION_OF))} "
        f"(or their sections {', '.join(sorted(SECTION_OF.values()))})"
    )


def key_material(scenario: Scenario, programme: str) -> dict[str, Any]:
    """What :func:`programme_key` hashes, as a JSON-friendly dict (for explaining a cache miss)."""
    section = _section_name(programme)
    dumped = scenario.model_dump(mode="json")
    hashes = input_hashes(scenario)
    data = dict(dumped["data"])
    for key, value in list(data.items()):
        if isinstance(value, dict) and "path" in value:
            data[key] = {**value, "path": hashes.get(f"data.{key}")}
        elif isinstance(value, str) and f"data.{key}" in hashes:
            data[key] = hashes[f"data.{key}"]
        elif key == "boundaries":
            data[key] = None  # the folder's files are hashed below
    shared = {name: dumped[name] for name in SHARED_SECTIONS}
    shared["data"] = data
    return {
        "programme": section,
        "section": dumped.get(section),
        "shared": shared,
        "inputs": hashes,
        "seed": scenario.seed,
        "lnplan_version": __version__,
        "lnplan_code": code_fingerprint(),
    }


def programme_key(scenario: Scenario, programme_name: str) -> str:
    """The cache key of one programme of a scenario: a SHA-256 hex digest.

    Parameters
    ----------
    scenario
        A validated scenario.
    programme_name
        The programme (``"fitness_sites"``, ``"employment_fund"``, ``"screening_routes"``) or its
        section (``"sites"``, ``"funding"``, ``"screening"``).

    The key changes when the programme's section, a shared setting (``world``, ``travel``,
    ``maps``, ``data``), an input file's contents, the seed or lnplan (version or code) changes,
    and only then: the other programmes' sections, ``name``, ``description`` and ``output`` are
    not part of it.
    """
    return digest(key_material(scenario, programme_name))


def digest(material: Any) -> str:
    """SHA-256 of a JSON-friendly value (keys sorted)."""
    text = json.dumps(material, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --- stores ----------------------------------------------------------------------------------


def disk_path(run_dir: Path | str, programme: str) -> Path:
    """Where a run folder keeps the cached output of ``programme``."""
    return Path(run_dir) / CACHE_DIR / f"{programme}.pkl"


def load_from_disk(run_dir: Path | str, programme: str, key: str) -> ProgrammeOutput | None:
    """The cached output of ``programme`` in ``run_dir`` if its key is ``key``, else None.

    Only folders written by lnplan (with :data:`lnplan.run.MARKER`) are read; an unreadable cache
    file is ignored with a log line (the programme is then solved again).
    """
    from lnplan.run import MARKER

    path = disk_path(run_dir, programme)
    if not (Path(run_dir) / MARKER).is_file() or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh)
    except Exception as exc:  # a damaged or foreign file: solve again
        logger.warning("cache file %s unreadable (%s); solving %s again", path, exc, programme)
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    output: ProgrammeOutput = entry["output"]
    return output


def save_to_disk(run_dir: Path | str, output: ProgrammeOutput, key: str) -> Path:
    """Store ``output`` under ``key`` in ``run_dir`` (the run's temporary folder)."""
    path = disk_path(run_dir, output.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump({"key": key, "output": output}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _recall(store: OrderedDict[str, Any], key: str) -> Any:
    """``store[key]`` (now the most recently used), or None."""
    value = store.get(key)
    if value is not None:
        store.move_to_end(key)
    return value


def _remember(store: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
    """Keep ``value`` under ``key``; the least recently used entries beyond ``size`` go."""
    store[key] = value
    store.move_to_end(key)
    while len(store) > size:
        store.popitem(last=False)


def load_from_memory(key: str) -> ProgrammeOutput | None:
    """The output this process computed under ``key``, if still kept."""
    return cast("ProgrammeOutput | None", _recall(_memory, key))


def save_to_memory(key: str, output: ProgrammeOutput) -> None:
    """Keep ``output`` under ``key`` (the oldest entries go beyond :data:`MEMORY_SIZE`)."""
    _remember(_memory, key, output, MEMORY_SIZE)


def clear_memory() -> None:
    """Forget every output and world kept in memory."""
    _memory.clear()
    _worlds.clear()


# --- the world ---------------------------------------------------------------------------------
# Building the province's synthetic world takes several seconds; a re-run after a quota change
# reuses it. A world with user households (personal data) is kept in memory only, never on disk.

WORLD_FILE = "world.pkl"
WORLD_FILES_KEY = "world_files.key"


def load_world_from_memory(key: str) -> World | None:
    """The world this process built under ``key``, if still kept."""
    return cast("World | None", _recall(_worlds, key))


def save_world_to_memory(key: str, world: World) -> None:
    """Keep ``world`` under ``key`` (at most :data:`WORLDS_IN_MEMORY`)."""
    _remember(_worlds, key, world, WORLDS_IN_MEMORY)


def load_world_from_disk(run_dir: Path | str, key: str) -> World | None:
    """The synthetic world cached in ``run_dir`` under ``key``, else None."""
    from lnplan.run import MARKER

    path = Path(run_dir) / CACHE_DIR / WORLD_FILE
    if not (Path(run_dir) / MARKER).is_file() or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh)
    except Exception as exc:
        logger.warning("cache file %s unreadable (%s); building the world again", path, exc)
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    world: World = entry["world"]
    return world


def save_world_to_disk(run_dir: Path | str, key: str, world: World) -> Path:
    """Store a synthetic ``world`` in ``run_dir``.

    Raises
    ------
    ValueError
        The world's households are not synthetic (personal data is never cached on disk).
    """
    if not world.households.attrs.get("synthetic", False):
        raise ValueError("a world with user households is personal data: not cached on disk")
    path = Path(run_dir) / CACHE_DIR / WORLD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump({"key": key, "world": world}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_world_files_key(run_dir: Path | str) -> str | None:
    """The key of the world files (``world/world.gpkg``) a run folder holds, if recorded."""
    path = Path(run_dir) / CACHE_DIR / WORLD_FILES_KEY
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def save_world_files_key(run_dir: Path | str, key: str) -> None:
    """Record the key of the world files written into ``run_dir``."""
    path = Path(run_dir) / CACHE_DIR / WORLD_FILES_KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n", encoding="utf-8")
