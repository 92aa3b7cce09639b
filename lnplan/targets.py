"""The province's programme targets and reference facts, read from ``data/programs/``.

One source of truth: the figures announced for 2022 (80 fitness demonstration sites, 35,000,000
yuan of employment security fund, ...) live in ``data/programs/targets_2022.toml``; the scenario
takes its defaults from there (see :mod:`lnplan.scenario`), and programme code reads them from the
scenario, never from literals.

Files (all editable; each documents its source and how sure it is, see ``data/programs/README.md``):

- ``targets_2022.toml`` — :func:`load_targets`: every target with its sentence of the announcement.
- ``priority_counties_2022.csv`` — :func:`load_priority_counties`: the provincial key
  rural-revitalization counties (省级乡村振兴重点帮扶县), marked "to verify".
- ``city_population_2020.csv`` — :func:`load_city_population`: 2020 census, 14 cities.
- ``townships_liaoning.csv`` — :func:`load_townships`: 1,354 township-level units (no coordinates).
- ``county_terrain.csv`` — :func:`load_county_terrain`: counties treated as mountainous.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from lnplan.errors import InputError

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PROGRAMS_DIR = DATA_DIR / "programs"
DEFAULT_TARGETS = PROGRAMS_DIR / "targets_2022.toml"
DEFAULT_PRIORITY_COUNTIES = PROGRAMS_DIR / "priority_counties_2022.csv"
DEFAULT_CITY_POPULATION = PROGRAMS_DIR / "city_population_2020.csv"
DEFAULT_TOWNSHIPS = PROGRAMS_DIR / "townships_liaoning.csv"
DEFAULT_COUNTY_TERRAIN = PROGRAMS_DIR / "county_terrain.csv"

#: Target keys that the scenario needs; a targets file without one of them is rejected.
REQUIRED_TARGETS = (
    "fitness_demo_sites",
    "employment_fund_yuan",
    "new_jobs_per_year",
    "screening_age_min_years",
    "screening_age_max_years",
)


@dataclass(frozen=True)
class Target:
    """One announced target: its value and unit, and the sentence it comes from."""

    key: str
    value: float
    unit: str
    sentence_zh: str
    sentence_en: str


@dataclass(frozen=True)
class Targets:
    """All targets of one targets file, by key, with the file's source note."""

    path: Path
    source: Mapping[str, object]
    items: Mapping[str, Target]

    def value(self, key: str) -> float:
        """Return the value of target ``key``; :class:`InputError` if the file lacks it."""
        try:
            return self.items[key].value
        except KeyError:
            raise InputError(
                f"{self.path}: no target {key!r}; the file has {', '.join(sorted(self.items))}"
            ) from None


def load_targets(path: Path | str = DEFAULT_TARGETS) -> Targets:
    """Read a targets TOML file (``[targets.<key>]`` tables with ``value``, ``unit``, sentences).

    Raises
    ------
    InputError
        The file is missing, is not TOML, or a target lacks a numeric ``value`` or a sentence.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"targets file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    tables = raw.get("targets")
    if not isinstance(tables, dict) or not tables:
        raise InputError(f"{path}: no [targets.<name>] tables found")
    items: dict[str, Target] = {}
    for key, table in tables.items():
        where = f"{path}: targets.{key}"
        if not isinstance(table, dict):
            raise InputError(
                f"{where}: expected a table with value, unit, sentence_zh, sentence_en"
            )
        value = table.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{where}.value: expected a number, got {value!r}")
        for field in ("unit", "sentence_zh", "sentence_en"):
            if not isinstance(table.get(field), str) or not table[field].strip():
                raise InputError(f"{where}.{field}: expected a non-empty text")
        items[key] = Target(
            key=key,
            value=value,
            unit=table["unit"],
            sentence_zh=table["sentence_zh"],
            sentence_en=table["sentence_en"],
        )
    missing = [k for k in REQUIRED_TARGETS if k not in items]
    if missing:
        raise InputError(f"{path}: missing target(s) {', '.join(missing)}")
    return Targets(
        path=path,
        source=MappingProxyType(dict(raw.get("source", {}))),
        items=MappingProxyType(items),
    )


def _read_csv(path: Path | str, required: tuple[str, ...], what: str) -> pd.DataFrame:
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} file not found: {path}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(required)}"
        )
    for col in required:
        empty = df.index[df[col].str.strip() == ""]
        if len(empty):
            raise InputError(f"{path}, row {int(empty[0]) + 2}, column {col!r}: empty value")
    return df


def _check_codes(df: pd.DataFrame, column: str, digits: int, path: Path | str) -> None:
    bad = ~df[column].str.fullmatch(rf"21\d{{{digits - 2}}}")
    if bad.any():
        row = int(df.index[bad][0])
        raise InputError(
            f"{path}, row {row + 2}, column {column!r}: {df[column].iloc[row]!r} is not a "
            f"{digits}-digit Liaoning division code (21...)"
        )
    dup = df[column].duplicated()
    if dup.any():
        row = int(df.index[dup][0])
        raise InputError(f"{path}, row {row + 2}, column {column!r}: duplicate code")


def load_priority_counties(path: Path | str = DEFAULT_PRIORITY_COUNTIES) -> pd.DataFrame:
    """Read the priority-county list: columns ``county_code`` (6 digits), ``county``, ``city``.

    Extra columns (``status``, ``city_code``, notes) are kept.
    """
    df = _read_csv(path, ("county_code", "county"), "priority-county")
    _check_codes(df, "county_code", 6, path)
    return df


def load_city_population(path: Path | str = DEFAULT_CITY_POPULATION) -> pd.DataFrame:
    """Read the 2020 census population: ``city_code``, ``city``, ``population_2020``."""
    df = _read_csv(path, ("city_code", "city", "population_2020"), "city-population")
    _check_codes(df, "city_code", 6, path)
    pop = pd.to_numeric(df["population_2020"], errors="coerce")
    bad = pop.isna() | (pop <= 0)
    if bad.any():
        row = int(df.index[bad][0])
        raise InputError(
            f"{path}, row {row + 2}, column 'population_2020': expected a positive integer, "
            f"got {df['population_2020'].iloc[row]!r}"
        )
    df["population_2020"] = pop.astype("int64")
    return df


def load_townships(path: Path | str = DEFAULT_TOWNSHIPS) -> pd.DataFrame:
    """Read township-level units: ``code`` (9 digits), ``name``, ``kind``, ``county_code``, ...

    ``kind`` is ``subdistrict`` (街道), ``town`` (镇) or ``township`` (乡).
    """
    df = _read_csv(path, ("code", "name", "kind", "county_code", "city_code"), "township")
    _check_codes(df, "code", 9, path)
    bad = ~df["kind"].isin(["subdistrict", "town", "township"])
    if bad.any():
        row = int(df.index[bad][0])
        raise InputError(
            f"{path}, row {row + 2}, column 'kind': {df['kind'].iloc[row]!r}; "
            "expected subdistrict, town or township"
        )
    return df


def load_county_terrain(path: Path | str = DEFAULT_COUNTY_TERRAIN) -> pd.DataFrame:
    """Read the county terrain classes: ``county_code``, ``terrain`` (``plain`` or ``mountain``).

    Counties not listed are plains.
    """
    df = _read_csv(path, ("county_code", "terrain"), "county-terrain")
    _check_codes(df, "county_code", 6, path)
    bad = ~df["terrain"].isin(["plain", "mountain"])
    if bad.any():
        row = int(df.index[bad][0])
        raise InputError(
            f"{path}, row {row + 2}, column 'terrain': {df['terrain'].iloc[row]!r}; "
            "expected plain or mountain"
        )
    return df
