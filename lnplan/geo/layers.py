"""Read and validate the point layers planners bring: households, facilities and candidate sites.

Formats: CSV (UTF-8, or GBK/GB18030 as Chinese office software writes it), XLSX, GeoPackage,
GeoJSON and Shapefile. Columns are found by their default names or Chinese synonyms (id/编号,
lon/经度, lat/纬度, county/区县, count/户数 or 人数); ``columns={"lon": "X坐标"}`` maps others.

Validation reports every problem in the file, not only the first. Each names the file, the row
(numbered as a spreadsheet shows it: the header is row 1, so the first data row is row 2; in vector
layers the 1-based feature number), the column and the value:

- missing or non-numeric coordinates;
- points outside Liaoning, with the likely cause: longitude and latitude swapped, GCJ-02 or BD-09
  coordinates not declared as such, or projected metres instead of degrees;
- duplicate IDs, negative or non-numeric counts, unknown county names.

Inputs are only read, never modified. A clean layer comes back as a GeoDataFrame in EPSG:4326 with
the canonical columns ``id``, ``lon``, ``lat`` (WGS-84, after any datum conversion) and, where the
file has them, ``county`` (full official name), ``city``, ``count``, ``name``, ``capacity``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from lnplan.errors import InputError, LayerValidationError, Problem
from lnplan.geo import boundaries
from lnplan.geo.datum import bd09_to_wgs84, check_datum, gcj02_to_wgs84, to_wgs84

log = logging.getLogger(__name__)

LayerKind = Literal["households", "facilities", "candidates"]
KINDS: tuple[LayerKind, ...] = ("households", "facilities", "candidates")

#: Accepted column names per canonical column (compared case-insensitively, spaces ignored).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "序号", "户编号", "编码", "代码", "fid", "code"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度", "东经"),
    "lat": ("lat", "latitude", "y", "纬度", "北纬"),
    "county": ("county", "区县", "县区", "县(市、区)", "县（市、区）", "县市区", "区县名称", "县"),
    "city": ("city", "市", "城市", "地市", "所属市"),
    "count": ("count", "户数", "人数", "数量", "households", "people", "n"),
    "name": ("name", "名称", "站点名称", "机构名称"),
    "capacity": ("capacity", "容量", "服务能力", "可服务户数"),
}

#: Which canonical columns each kind of layer must have, and which it may have.
REQUIRED: dict[LayerKind, tuple[str, ...]] = {
    "households": ("id", "lon", "lat"),
    "facilities": ("id", "lon", "lat"),
    "candidates": ("id", "lon", "lat"),
}
OPTIONAL: dict[LayerKind, tuple[str, ...]] = {
    "households": ("county", "city", "count"),
    "facilities": ("county", "city", "name", "capacity"),
    "candidates": ("county", "city", "name", "capacity"),
}

TABLE_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm"}
VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".zip"}

#: Points within this distance outside the simplified provincial outline are accepted (coastal
#: households and islands sit on a coastline simplified by about 100-200 m). Kept well below the
#: GCJ-02 offset (about 0.6 km in Liaoning) so that undeclared GCJ-02 can still be told apart.
TOLERANCE_KM = 0.5


@dataclass(frozen=True)
class RawLayer:
    """A file's rows as read, before validation: all values as found, one row per record."""

    path: Path
    frame: pd.DataFrame
    first_row: int  # the spreadsheet row number of frame row 0 (2 for tables, 1 for features)
    unit: str  # "row" or "feature"


def _norm(name: object) -> str:
    return str(name).strip().lower().replace(" ", "").replace("_", "")


def read_raw(
    path: str | Path, *, encoding: str | None = None, layer: str | None = None
) -> RawLayer:
    """Read a table or vector layer without interpreting it.

    CSV is tried as UTF-8 (with or without BOM) and then GB18030 (a superset of GBK) unless
    ``encoding`` is given. Vector layers get their point coordinates as ``__lon``/``__lat``
    columns in EPSG:4326 (reprojected from their CRS when they declare one).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    suffix = p.suffix.lower()
    if suffix in {".csv", ".txt"}:
        return RawLayer(p, _read_csv(p, encoding), first_row=2, unit="row")
    if suffix in {".xlsx", ".xlsm"}:
        try:
            frame = pd.read_excel(p, dtype=object, sheet_name=layer or 0, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many types for broken files
            raise InputError(f"{p}: cannot read as an Excel workbook ({exc})") from None
        return RawLayer(p, frame, first_row=2, unit="row")
    if suffix in VECTOR_SUFFIXES:
        return RawLayer(p, _read_vector(p, layer), first_row=1, unit="feature")
    accepted = ", ".join(sorted(TABLE_SUFFIXES | VECTOR_SUFFIXES))
    raise InputError(f"{p}: unsupported file type {suffix!r}; accepted: {accepted}")


def _read_csv(p: Path, encoding: str | None) -> pd.DataFrame:
    encodings = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for enc in encodings:
        try:
            return pd.read_csv(
                p,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                encoding=enc,
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise InputError(f"{p}: the file is empty; expected a header row") from None
        except pd.errors.ParserError as exc:
            raise InputError(f"{p}: not a readable CSV table ({exc})") from None
    raise InputError(f"{p}: text is neither UTF-8 nor GBK/GB18030; save it as UTF-8 CSV")


def _read_vector(p: Path, layer: str | None) -> pd.DataFrame:
    try:
        gdf = gpd.read_file(p, layer=layer)
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        raise InputError(f"{p}: cannot read as a vector layer ({exc})") from None
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geom = gdf.geometry
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326") and len(gdf):
        geom = geom.to_crs("EPSG:4326")
    is_point = np.asarray(geom.geom_type == "Point") & ~np.asarray(geom.is_empty | geom.isna())
    lon = np.full(len(gdf), np.nan)
    lat = np.full(len(gdf), np.nan)
    lon[is_point] = shapely.get_x(np.asarray(geom.values)[is_point])
    lat[is_point] = shapely.get_y(np.asarray(geom.values)[is_point])
    frame["__lon"] = lon
    frame["__lat"] = lat
    frame["__geom_type"] = np.asarray(geom.geom_type.fillna("none"))
    return frame


def find_columns(
    columns: list[str], kind: LayerKind, mapping: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Map canonical names to the file's column names.

    Returns the mapping found and the messages for required columns that are missing or for
    mapping entries that name no column.
    """
    found: dict[str, str] = {}
    messages: list[str] = []
    by_norm = {_norm(c): c for c in columns}
    for canonical, actual in (mapping or {}).items():
        if canonical not in SYNONYMS:
            messages.append(
                f"column mapping names unknown field {canonical!r}; accepted: {', '.join(SYNONYMS)}"
            )
        elif actual in columns:
            found[canonical] = actual
        elif _norm(actual) in by_norm:
            found[canonical] = by_norm[_norm(actual)]
        else:
            messages.append(
                f"column mapping {canonical}={actual!r}: no such column; "
                f"the file has: {', '.join(map(str, columns))}"
            )
    wanted = {c: SYNONYMS[c] for c in REQUIRED[kind] + OPTIONAL[kind] if c not in found}
    found.update(match_headers(columns, wanted))
    return found, messages


def match_headers(columns: Sequence[object], spec: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """For each canonical field in ``spec``, the first of its accepted names among ``columns``.

    Names are compared ignoring case, spaces and underscores; fields with no match are left out.
    """
    by_norm = {_norm(c): str(c) for c in columns}
    found: dict[str, str] = {}
    for canonical, names in spec.items():
        for name in names:
            if _norm(name) in by_norm:
                found[canonical] = by_norm[_norm(name)]
                break
    return found


def _numeric(values: pd.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Numbers from a column of mixed strings/numbers, and a mask of cells that are blank."""
    text = values.astype("string").str.strip()
    blank = np.asarray(text.isna() | (text == ""), dtype=bool)
    nums = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    return np.asarray(nums, dtype=np.float64), blank


def validate_layer(
    path: str | Path,
    kind: str,
    *,
    coords: str = "wgs84",
    columns: Mapping[str, str] | None = None,
    encoding: str | None = None,
    layer: str | None = None,
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """Read a point layer and find every problem in it.

    Returns the clean layer (or ``None`` when problems were found) and the list of problems.
    Errors that stop reading altogether (missing file, unreadable format) raise ``InputError``.
    """
    if kind not in KINDS:
        raise InputError(f"unknown layer kind {kind!r}; accepted: {', '.join(KINDS)}")
    layer_kind = cast(LayerKind, kind)
    datum = check_datum(coords)
    raw = read_raw(path, encoding=encoding, layer=layer)
    file = str(raw.path)
    frame = raw.frame
    unit = raw.unit

    def problem(i: int | None, column: str | None, value: object, message: str) -> Problem:
        row = None if i is None else raw.first_row + i
        return Problem(file, row, column, value, message, unit=unit)

    problems: list[Problem] = []
    is_vector = "__lon" in frame.columns
    user_columns = [c for c in frame.columns if not str(c).startswith("__")]
    found, messages = find_columns([str(c) for c in user_columns], layer_kind, columns)
    problems += [problem(None, None, None, m) for m in messages]
    required = ("id",) if is_vector else REQUIRED[layer_kind]
    for canonical in required:
        if canonical not in found:
            problems.append(
                problem(
                    None,
                    canonical,
                    None,
                    f"missing required column {canonical!r}; accepted names: "
                    f"{', '.join(SYNONYMS[canonical])} (or map one with --column "
                    f"{canonical}=NAME); the file has: {', '.join(map(str, user_columns))}",
                )
            )
    if problems:
        return None, problems

    # Rows that are entirely blank (spreadsheets keep them) are skipped but keep their numbers.
    keep = (
        ~frame[user_columns]
        .astype("string")
        .apply(lambda s: s.str.strip().fillna(""))
        .eq("")
        .all(axis=1)
        .to_numpy()
    )
    rows = np.flatnonzero(keep)
    frame = frame.iloc[rows]

    # --- ids ---
    id_col = found["id"]
    ids = frame[id_col].astype("string").str.strip()
    ids = ids.where(ids != "")
    for pos, value in zip(rows, ids, strict=True):
        if pd.isna(value):
            problems.append(problem(int(pos), id_col, None, "missing id"))
    first_seen: dict[str, int] = {}
    for pos, value in zip(rows, ids, strict=True):
        if pd.isna(value):
            continue
        if value in first_seen:
            problems.append(
                problem(
                    int(pos),
                    id_col,
                    value,
                    f"duplicate id: already used in {unit} {raw.first_row + first_seen[value]}; "
                    "ids must be unique",
                )
            )
        else:
            first_seen[value] = int(pos)

    # --- coordinates ---
    if is_vector:
        lon = frame["__lon"].to_numpy(dtype=np.float64)
        lat = frame["__lat"].to_numpy(dtype=np.float64)
        lon_col, lat_col = "geometry", "geometry"
        for pos, gtype, x in zip(rows, frame["__geom_type"], lon, strict=True):
            if np.isnan(x):
                problems.append(
                    problem(int(pos), "geometry", gtype, "not a point geometry; expected Point")
                )
        coord_ok = ~np.isnan(lon)
    else:
        lon_col, lat_col = found["lon"], found["lat"]
        lon, lon_blank = _numeric(frame[lon_col])
        lat, lat_blank = _numeric(frame[lat_col])
        for col, vals, blank, raw_vals in (
            (lon_col, lon, lon_blank, frame[lon_col]),
            (lat_col, lat, lat_blank, frame[lat_col]),
        ):
            for pos, v, b, rv in zip(rows, vals, blank, raw_vals, strict=True):
                if b:
                    problems.append(problem(int(pos), col, None, "missing coordinate"))
                elif not np.isfinite(v):
                    problems.append(
                        problem(
                            int(pos), col, rv, "not a number; expected decimal degrees like 123.43"
                        )
                    )
        coord_ok = np.isfinite(lon) & np.isfinite(lat)

    wlon = np.full(len(frame), np.nan)
    wlat = np.full(len(frame), np.nan)
    wlon[coord_ok], wlat[coord_ok] = to_wgs84(lon[coord_ok], lat[coord_ok], datum)
    inside = np.zeros(len(frame), dtype=bool)
    inside[coord_ok] = in_liaoning(wlon[coord_ok], wlat[coord_ok])
    for i in np.flatnonzero(coord_ok & ~inside).tolist():
        cause = _outside_cause(float(lon[i]), float(lat[i]), datum)
        value = f"{lon[i]:g}, {lat[i]:g}"
        column = lon_col if lon_col == lat_col else f"{lon_col}/{lat_col}"
        problems.append(problem(int(rows[i]), column, value, f"point is outside Liaoning; {cause}"))

    # --- counts and capacities ---
    numbers: dict[str, npt.NDArray[np.float64]] = {}
    for canonical in ("count", "capacity"):
        if canonical not in found:
            continue
        col = found[canonical]
        vals, blank = _numeric(frame[col])
        for pos, v, b, rv in zip(rows, vals, blank, frame[col], strict=True):
            if b:
                problems.append(problem(int(pos), col, None, f"missing {canonical}"))
            elif not np.isfinite(v):
                problems.append(
                    problem(int(pos), col, rv, f"not a number; expected a whole {canonical} ≥ 0")
                )
            elif v < 0:
                problems.append(
                    problem(int(pos), col, rv, f"negative {canonical}; expected a whole number ≥ 0")
                )
            elif v != np.floor(v):
                problems.append(problem(int(pos), col, rv, f"{canonical} must be a whole number"))
        numbers[canonical] = vals

    # --- county (and city) names ---
    county_of: list[tuple[str, str] | None] = [None] * len(frame)
    if "county" in found:
        col = found["county"]
        city_values = (
            frame[found["city"]].astype("string").str.strip()
            if "city" in found
            else pd.Series([pd.NA] * len(frame), dtype="string")
        )
        cache: dict[tuple[str, str | None], tuple[str, str] | str] = {}
        for i, (pos, name, city) in enumerate(
            zip(rows, frame[col].astype("string").str.strip(), city_values, strict=True)
        ):
            if pd.isna(name) or name == "":
                problems.append(problem(int(pos), col, None, "missing county name"))
                continue
            key = (str(name), None if pd.isna(city) or city == "" else str(city))
            if key not in cache:
                cache[key] = _resolve_county(*key)
            resolved = cache[key]
            if isinstance(resolved, tuple):
                county_of[i] = resolved
            else:
                problems.append(problem(int(pos), col, name, resolved))

    if problems:
        problems.sort(key=lambda p: p.row or 0)  # stable: columns keep their order within a row
        return None, problems

    out = pd.DataFrame({"id": ids.to_numpy(dtype=object), "lon": wlon, "lat": wlat})
    if "county" in found:
        out["county"] = [c[0] if c else None for c in county_of]
        out["city"] = [c[1] if c else None for c in county_of]
    elif "city" in found:
        out["city"] = frame[found["city"]].astype("string").str.strip().to_numpy()
    for canonical, vals in numbers.items():
        out[canonical] = vals.astype(np.int64)
    if "name" in found:
        out["name"] = frame[found["name"]].astype("string").to_numpy()
    out["source_row"] = rows + raw.first_row
    gdf = gpd.GeoDataFrame(
        out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs=boundaries.WGS84
    )
    gdf.attrs["source"] = file
    gdf.attrs["kind"] = layer_kind
    gdf.attrs["coords"] = datum
    return gdf, []


def read_layer(
    path: str | Path,
    kind: str,
    *,
    coords: str = "wgs84",
    columns: Mapping[str, str] | None = None,
    encoding: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read and validate a point layer; raise ``LayerValidationError`` listing every problem.

    Parameters
    ----------
    path
        CSV, XLSX, GeoPackage, GeoJSON or Shapefile.
    kind
        ``households``, ``facilities`` or ``candidates``.
    coords
        Datum of the coordinates in the file: ``wgs84`` (GPS), ``gcj02`` (AMap, Tencent) or
        ``bd09`` (Baidu). They are converted to WGS-84.
    columns
        Map from canonical field (id, lon, lat, county, city, count, name, capacity) to the
        column name used in the file, for names that are not among the known synonyms.
    """
    gdf, problems = validate_layer(
        path, kind, coords=coords, columns=columns, encoding=encoding, layer=layer
    )
    if problems or gdf is None:
        raise LayerValidationError(str(path), problems)
    return gdf


def in_liaoning(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tolerance_km: float = TOLERANCE_KM
) -> npt.NDArray[np.bool_]:
    """True where a WGS-84 point lies in Liaoning (within ``tolerance_km`` of its outline)."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    area = _province_with_tolerance(tolerance_km)
    ok = np.isfinite(lon_a) & np.isfinite(lat_a) & (np.abs(lon_a) <= 180) & (np.abs(lat_a) <= 90)
    result = np.zeros(lon_a.shape, dtype=bool)
    result[ok] = shapely.contains_xy(area, lon_a[ok], lat_a[ok])
    return result


_TOLERANT: dict[float, shapely.Geometry] = {}


def _province_with_tolerance(tolerance_km: float) -> shapely.Geometry:
    if tolerance_km not in _TOLERANT:
        metric = gpd.GeoSeries([boundaries.province()], crs=boundaries.WGS84).to_crs(
            boundaries.METRIC_CRS
        )
        grown = metric.buffer(tolerance_km * 1000.0).to_crs(boundaries.WGS84).iloc[0]
        shapely.prepare(grown)
        _TOLERANT[tolerance_km] = grown
    return _TOLERANT[tolerance_km]


def _outside_cause(lon: float, lat: float, datum: str) -> str:
    """The likely reason a point falls outside Liaoning, as advice a planner can act on."""
    if in_liaoning([lat], [lon])[0]:
        return "longitude and latitude look swapped (latitude is about 39-44, longitude 118-126)"
    if abs(lon) > 180 or abs(lat) > 90:
        metric = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=boundaries.METRIC_CRS).to_crs(
            boundaries.WGS84
        )
        if in_liaoning([metric.x.iloc[0]], [metric.y.iloc[0]])[0]:
            return (
                f"these look like projected metres in {boundaries.METRIC_CRS}, not degrees; "
                "export longitude/latitude in decimal degrees"
            )
        return (
            "these look like projected metres (UTM or Gauss-Krüger), not degrees; "
            "export longitude/latitude in decimal degrees"
        )
    if in_liaoning([lat], [lon])[0]:
        return "longitude and latitude look swapped (latitude is about 39-44, longitude 118-126)"
    if datum == "wgs84":
        for name, convert in (("gcj02", gcj02_to_wgs84), ("bd09", bd09_to_wgs84)):
            x, y = convert(lon, lat)
            if in_liaoning([float(x)], [float(y)])[0]:
                return (
                    f"it would be inside if the coordinates were {name.upper()} "
                    f"({'AMap/Tencent' if name == 'gcj02' else 'Baidu'}); "
                    f"declare them with --coords {name}"
                )
    if 118.0 <= lon <= 126.5 and 38.0 <= lat <= 44.0:
        return "it lies beyond the provincial border or in the sea"
    return "check the coordinates (expected longitude 118-126, latitude 38-44)"


def _resolve_county(name: str, city: str | None) -> tuple[str, str] | str:
    """The full official (county, city) names for ``name``, or the reason it is not known."""
    try:
        city_name = None if city is None else str(boundaries.find_city(city)["name"])
        row = boundaries.find_county(name, city=city_name)
    except InputError as exc:  # UnknownPlaceError included: the message lists close matches
        return str(exc)
    return str(row["name"]), str(row["city"])
