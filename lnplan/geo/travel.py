"""Distances and road travel times between points, dense for small sets and sparse for large ones.

Great-circle distance
---------------------
:func:`haversine_km` on a sphere of radius :data:`EARTH_RADIUS_KM` (the IUGG mean radius,
6,371.0088 km). On the WGS-84 ellipsoid true geodesic distances differ by at most about 0.3 %
at Liaoning's latitudes, far below the uncertainty of any road model.

Road travel-time model
----------------------
``travel_time_min = distance_km × detour_factor ÷ speed_kph × 60``, where ``distance_km`` is the
great-circle distance and the factors depend on the terrain of the county a point lies in
(:class:`RoadModel`). For a pair of points, the minutes per kilometre of the two ends are averaged,
so the model is symmetric. Defaults (scenario ``[travel.plain]`` / ``[travel.mountain]``):

========= ============= ========= ==========================================================
terrain   detour_factor speed_kph why
========= ============= ========= ==========================================================
plain     1.3           60        road network distance / straight line is about 1.2-1.4 on
                                  dense rural grids of the North-East plain (the usual 1.3 of
                                  the circuity literature); a mix of expressways (100-120 km/h),
                                  national/provincial roads (60-80) and county/village roads
                                  (30-40) averages about 60 km/h door to door.
mountain  1.5           40        valley roads wind around ridges (circuity 1.4-1.6 in hilly
                                  terrain) and county roads in the eastern mountains and western
                                  hills of Liaoning are slower (about 30-50 km/h).
========= ============= ========= ==========================================================

These are planning estimates, not routes: a user matrix exported from a routing service can
replace them (:func:`read_travel_matrix`).

Sparse coverage
---------------
:func:`within_radius` and :func:`within_minutes` return a ``scipy.sparse.csr_array`` of shape
(demand × candidate) holding the distance (km) or the travel time (min) of every pair within the
limit, never a dense matrix. Pairs are found with a ``scipy.spatial.cKDTree`` over the points'
3-D positions on the unit sphere: the chord length there is a strictly increasing function of the
great-circle distance, so a ball query of the matching chord finds exactly the pairs within the
radius, with no projection error at any extent (a KD-tree in
:data:`lnplan.geo.boundaries.METRIC_CRS` would carry UTM's up to 0.11 % scale error at the
province's western edge). The query radius is inflated by a hair, and the great-circle distance
recovered from the chord (``2R asin(chord/2)``, equal to haversine to about 1e-11 km) then decides,
so the sparse result equals the dense one pair for pair. Demand is processed in chunks to bound
memory.

The matrix stores the value of every reachable pair, including explicit zeros (a household at a
candidate's position); test reachability with the sparsity structure (``indptr``/``indices``),
not with ``matrix > 0``. :func:`coverage_sets` gives the structure as 0/1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree

from lnplan.errors import CRSError, InputError
from lnplan.scenario import MatrixSource, TravelSection

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

EARTH_RADIUS_KM = 6371.0088
#: Largest dense matrix (cells) :func:`distance_matrix_km` builds; beyond it use the sparse tools.
MAX_DENSE_CELLS = 25_000_000


def _lonlat(points: npt.ArrayLike, what: str) -> FloatArray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{what}: expected an array of shape (n, 2) of lon, lat; got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    bad |= (np.abs(arr[:, 0]) > 180) | (np.abs(arr[:, 1]) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{what}: point {i} ({arr[i, 0]}, {arr[i, 1]}) is not a longitude/latitude in degrees"
        )
    return arr


def haversine_km(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in km between points given in degrees (numpy broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def distance_matrix_km(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Dense great-circle distances (km) between rows of ``a`` (n, 2) and ``b`` (m, 2), lon/lat.

    Only for small sets (n × m up to :data:`MAX_DENSE_CELLS`); use :func:`within_radius` else.
    """
    pa, pb = _lonlat(a, "origins"), _lonlat(b, "destinations")
    if len(pa) * len(pb) > MAX_DENSE_CELLS:
        raise InputError(
            f"a dense {len(pa)} x {len(pb)} matrix is too large ({len(pa) * len(pb):,} cells, "
            f"limit {MAX_DENSE_CELLS:,}); use within_radius/within_minutes (sparse) instead"
        )
    return haversine_km(pa[:, None, 0], pa[:, None, 1], pb[None, :, 0], pb[None, :, 1])


@dataclass(frozen=True)
class RoadModel:
    """Road travel time from great-circle distance: ``km × detour_factor ÷ speed_kph``."""

    plain_detour_factor: float = 1.3
    plain_speed_kph: float = 60.0
    mountain_detour_factor: float = 1.5
    mountain_speed_kph: float = 40.0

    def __post_init__(self) -> None:
        for name in ("plain_detour_factor", "mountain_detour_factor"):
            if not getattr(self, name) >= 1.0:
                raise InputError(f"{name} must be >= 1 (roads are never shorter than straight)")
        for name in ("plain_speed_kph", "mountain_speed_kph"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be > 0")

    @classmethod
    def from_scenario(cls, travel: TravelSection) -> RoadModel:
        """Build from a scenario's ``travel`` section (:class:`lnplan.scenario.TravelSection`)."""
        plain, mountain = travel.plain, travel.mountain
        return cls(
            plain_detour_factor=plain.detour_factor,
            plain_speed_kph=plain.speed_kph,
            mountain_detour_factor=mountain.detour_factor,
            mountain_speed_kph=mountain.speed_kph,
        )

    @property
    def plain_min_per_km(self) -> float:
        """Minutes of road travel per great-circle km on the plains."""
        return self.plain_detour_factor / self.plain_speed_kph * 60.0

    @property
    def mountain_min_per_km(self) -> float:
        """Minutes of road travel per great-circle km in the mountains."""
        return self.mountain_detour_factor / self.mountain_speed_kph * 60.0

    def min_per_km(self, mountain: npt.ArrayLike) -> FloatArray:
        """Minutes per great-circle km for points in mountain (True) or plain (False) counties."""
        m = np.asarray(mountain, dtype=bool)
        return np.where(m, self.mountain_min_per_km, self.plain_min_per_km).astype(np.float64)

    def travel_time_min(
        self, distance_km: npt.ArrayLike, mountain_a: npt.ArrayLike, mountain_b: npt.ArrayLike
    ) -> FloatArray:
        """Travel minutes for great-circle distances between points of the given terrains."""
        rate = (self.min_per_km(mountain_a) + self.min_per_km(mountain_b)) / 2.0
        return np.asarray(distance_km, dtype=np.float64) * rate


def _terrain(mountain: npt.ArrayLike | None, n: int, what: str) -> BoolArray:
    if mountain is None:
        return np.zeros(n, dtype=bool)
    m = np.asarray(mountain, dtype=bool)
    if m.shape != (n,):
        raise InputError(f"{what}: expected {n} terrain flags, got shape {m.shape}")
    return m


def travel_time_matrix_min(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    model: RoadModel,
    a_mountain: npt.ArrayLike | None = None,
    b_mountain: npt.ArrayLike | None = None,
) -> FloatArray:
    """Dense road travel times (min) between rows of ``a`` and ``b`` (small sets: townships)."""
    dist = distance_matrix_km(a, b)
    ma = _terrain(a_mountain, dist.shape[0], "a_mountain")
    mb = _terrain(b_mountain, dist.shape[1], "b_mountain")
    return model.travel_time_min(dist, ma[:, None], mb[None, :])


def _unit_xyz(lonlat: FloatArray) -> FloatArray:
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    cos_lat = np.cos(lat)
    return np.column_stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)])


def _chord_to_km(chord: FloatArray) -> FloatArray:
    """Great-circle km from the chord between unit vectors (same distance as haversine)."""
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)))


#: rule(chunk start, chunk demand indices, candidate indices, km) -> (keep mask, stored values)
PairRule = Callable[
    [int, npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray], tuple[BoolArray, FloatArray]
]


def _sparse_within_km(
    demand: FloatArray,
    candidates: FloatArray,
    radius_km: float,
    chunk_rows: int,
    rule: PairRule | None = None,
) -> sparse.csr_array:
    """CSR (demand x candidate) of the pairs within ``radius_km``; km as data unless ``rule``.

    ``rule(start, i, j, km)`` gets the chunk's first demand row, local demand indices, candidate
    indices and km of the pairs found, and returns which to keep and the values to store.
    """
    if radius_km < 0 or not np.isfinite(radius_km):
        raise InputError(f"radius_km must be a finite number >= 0, got {radius_km}")
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be >= 1, got {chunk_rows}")
    shape = (len(demand), len(candidates))
    if len(demand) == 0 or len(candidates) == 0:
        return sparse.csr_array(shape, dtype=np.float64)
    angle = min(radius_km / EARTH_RADIUS_KM, np.pi)
    chord = 2.0 * np.sin(angle / 2.0) * (1 + 1e-9) + 1e-12
    cand_tree = cKDTree(_unit_xyz(candidates))
    data_parts: list[FloatArray] = []
    index_parts: list[npt.NDArray[np.int32]] = []
    row_counts = np.zeros(shape[0], dtype=np.int64)
    for start in range(0, len(demand), chunk_rows):
        chunk = demand[start : start + chunk_rows]
        chunk_tree = cKDTree(_unit_xyz(chunk))
        found = chunk_tree.sparse_distance_matrix(cand_tree, chord, output_type="ndarray")
        i = found["i"].astype(np.int64)
        j = found["j"].astype(np.int64)
        km = _chord_to_km(found["v"])
        del found
        keep = km <= radius_km
        i, j, km = i[keep], j[keep], km[keep]
        values = km
        if rule is not None:
            keep, values = rule(start, i, j, km)
            i, j, values = i[keep], j[keep], values[keep]
        order = np.argsort(i * shape[1] + j, kind="stable")
        data_parts.append(values[order])
        index_parts.append(j[order].astype(np.int32))
        row_counts[start : start + len(chunk)] = np.bincount(i, minlength=len(chunk))
        del i, j, km, values, keep, order
    nnz = int(row_counts.sum())
    indptr = np.zeros(shape[0] + 1, dtype=np.int64 if nnz >= 2**31 else np.int32)
    np.cumsum(row_counts, out=indptr[1:])
    data = np.concatenate(data_parts)
    data_parts.clear()
    indices = np.concatenate(index_parts)
    index_parts.clear()
    if indptr.dtype == np.int64:
        indices = indices.astype(np.int64)
    out = sparse.csr_array((data, indices, indptr), shape=shape)
    out.has_sorted_indices = True
    return out


def _csr(
    rows: npt.NDArray[np.integer],
    cols: npt.NDArray[np.integer],
    vals: FloatArray,
    shape: tuple[int, int],
) -> sparse.csr_array:
    """CSR from pairs (any order, no duplicates), keeping explicit zeros, sorted indices."""
    out = sparse.coo_array((vals, (rows, cols)), shape=shape).tocsr()
    out.sort_indices()
    return sparse.csr_array(out)


def within_radius(
    demand: npt.ArrayLike,
    candidates: npt.ArrayLike,
    *,
    radius_km: float,
    chunk_rows: int = 20_000,
) -> sparse.csr_array:
    """Sparse great-circle distances (km) of all demand-candidate pairs within ``radius_km``.

    Parameters
    ----------
    demand, candidates
        Arrays of shape (n, 2) and (m, 2) of WGS-84 longitude, latitude in degrees.
    radius_km
        Inclusive limit.
    chunk_rows
        Demand rows processed at a time (bounds the temporary memory).

    Returns
    -------
    scipy.sparse.csr_array
        Shape (n, m), float64 km as data (explicit zeros kept), sorted column indices.
    """
    d, c = _lonlat(demand, "demand"), _lonlat(candidates, "candidates")
    out = _sparse_within_km(d, c, float(radius_km), chunk_rows)
    logger.debug("within %.1f km: %d pairs for %d x %d", radius_km, out.nnz, len(d), len(c))
    return out


def within_minutes(
    demand: npt.ArrayLike,
    candidates: npt.ArrayLike,
    *,
    limit_min: float,
    model: RoadModel,
    demand_mountain: npt.ArrayLike | None = None,
    candidate_mountain: npt.ArrayLike | None = None,
    chunk_rows: int = 20_000,
) -> sparse.csr_array:
    """Sparse road travel times (min) of all demand-candidate pairs within ``limit_min``.

    ``demand_mountain`` / ``candidate_mountain`` flag points in mountain counties (default: all
    plains). The search radius is the distance the fastest terrain reaches in ``limit_min``; the
    exact times then decide.
    """
    if limit_min < 0 or not np.isfinite(limit_min):
        raise InputError(f"limit_min must be a finite number >= 0, got {limit_min}")
    d, c = _lonlat(demand, "demand"), _lonlat(candidates, "candidates")
    md = _terrain(demand_mountain, len(d), "demand_mountain")
    mc = _terrain(candidate_mountain, len(c), "candidate_mountain")
    fastest = min(model.plain_min_per_km, model.mountain_min_per_km)
    rate_d, rate_c = model.min_per_km(md) / 2.0, model.min_per_km(mc) / 2.0

    def rule(
        start: int, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64], km: FloatArray
    ) -> tuple[BoolArray, FloatArray]:
        minutes = km * (rate_d[start + i] + rate_c[j])
        return minutes <= limit_min, minutes

    return _sparse_within_km(d, c, limit_min / fastest, chunk_rows, rule)


def coverage_sets(matrix: sparse.csr_array) -> sparse.csr_array:
    """The 0/1 structure of a sparse distance/time matrix (1 where a pair is stored)."""
    out = matrix.copy()
    out.data = np.ones_like(out.data, dtype=np.int8)
    return sparse.csr_array(out)


def limit_matrix(matrix: sparse.csr_array, *, limit: float) -> sparse.csr_array:
    """Keep only the stored pairs whose value is at most ``limit`` (explicit zeros kept)."""
    m = sparse.csr_array(matrix).tocoo()
    keep = m.data <= limit
    return _csr(m.coords[0][keep], m.coords[1][keep], m.data[keep].astype(np.float64), m.shape)


def read_travel_matrix(
    path: str | Path,
    *,
    origin_ids: Sequence[str],
    destination_ids: Sequence[str],
    origin_column: str = "origin_id",
    destination_column: str = "destination_id",
    value_column: str = "travel_time_min",
) -> sparse.csr_array:
    """Read a user travel matrix in long form (one row per pair) from CSV or Parquet.

    Pairs absent from the file are unreachable. Every id must be among ``origin_ids`` /
    ``destination_ids`` (compared as text), each pair at most once, and every value a finite
    number >= 0.

    Returns
    -------
    scipy.sparse.csr_array
        Shape (len(origin_ids), len(destination_ids)) in the order of the given ids, the file's
        values as data (explicit zeros kept).

    Raises
    ------
    InputError
        Missing file, unknown format, missing columns, unknown ids, duplicate pairs, bad values;
        the message names the file, the row (header = row 1) and the column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"travel matrix not found: {path}")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype={origin_column: str, destination_column: str})
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise InputError(f"{path}: travel matrix must be .csv or .parquet, got {suffix!r}")
    except (ValueError, OSError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: cannot read travel matrix: {exc}") from None
    missing = [c for c in (origin_column, destination_column, value_column) if c not in frame]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; the file has "
            f"{', '.join(map(str, frame.columns))}"
        )

    def where(i: int, col: str) -> str:
        return f"{path}, row {i + 2}, column {col!r}"

    o_index = {str(v): k for k, v in enumerate(origin_ids)}
    d_index = {str(v): k for k, v in enumerate(destination_ids)}
    if len(o_index) != len(origin_ids) or len(d_index) != len(destination_ids):
        raise InputError("origin_ids and destination_ids must each be unique")
    o = frame[origin_column].astype(str).str.strip().map(o_index)
    d = frame[destination_column].astype(str).str.strip().map(d_index)
    for series, col, what in ((o, origin_column, "origin"), (d, destination_column, "destination")):
        if series.isna().any():
            i = int(np.flatnonzero(series.isna().to_numpy())[0])
            n_bad = int(series.isna().sum())
            raise InputError(
                f"{where(i, col)}: unknown {what} id {frame[col].iloc[i]!r} "
                f"({n_bad} row(s) with ids not among the {what}s of this run)"
            )
    values = pd.to_numeric(frame[value_column], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = frame[value_column].iloc[i]
        shown = raw.item() if isinstance(raw, np.generic) else raw
        raise InputError(f"{where(i, value_column)}: {shown!r} is not a number >= 0")
    rows = o.to_numpy(dtype=np.int64)
    cols = d.to_numpy(dtype=np.int64)
    key = rows * len(destination_ids) + cols
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        dup_key = uniq[counts > 1][0]
        i = int(np.flatnonzero(key == dup_key)[1])
        raise InputError(
            f"{path}, row {i + 2}: duplicate pair {frame[origin_column].iloc[i]!r} -> "
            f"{frame[destination_column].iloc[i]!r}; each pair at most once"
        )
    no_rows = len(o_index) - len(np.unique(rows))
    if no_rows:
        logger.warning("%s: %d origin(s) have no reachable destination", path, no_rows)
    return _csr(rows, cols, values, (len(origin_ids), len(destination_ids)))


# --- geo adapter -------------------------------------------------------------------------------


def layer_lonlat(layer: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> FloatArray:
    """The (n, 2) WGS-84 longitude/latitude of a point layer (any CRS, but it must have one)."""
    if not isinstance(layer, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(f"{what}: expected a GeoDataFrame of points")
    if layer.crs is None:
        raise CRSError(f"{what}: the layer has no CRS; expected EPSG:4326 or a known CRS")
    geom = layer.geometry if isinstance(layer, gpd.GeoDataFrame) else layer
    geom = geom.to_crs("EPSG:4326")
    if len(geom) and not (geom.geom_type == "Point").all():
        raise InputError(f"{what}: every geometry must be a Point")
    return np.column_stack([geom.x.to_numpy(np.float64), geom.y.to_numpy(np.float64)])


def _mountain_flags(layer: gpd.GeoDataFrame, mountain: set[str]) -> BoolArray | None:
    if "county_code" not in layer.columns:
        return None
    return np.asarray(layer["county_code"].astype(str).isin(mountain), dtype=bool)


def coverage_for_layers(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    model: RoadModel,
    mountain_counties: Collection[str] = (),
    travel_time_min: float | None = None,
    radius_km: float | None = None,
    matrix: MatrixSource | None = None,
    demand_id_column: str = "key",
    candidate_id_column: str = "candidate_id",
) -> sparse.csr_array:
    """Sparse coverage between two point layers: the geo door to :func:`within_minutes`.

    Parameters
    ----------
    demand, candidates
        Point GeoDataFrames. A ``county_code`` column, when present, gives each point's terrain
        (mountain if the code is in ``mountain_counties``); without it a point counts as plain.
    model
        The road model (``RoadModel.from_scenario(scenario.travel)``).
    mountain_counties
        County codes in mountain terrain (``world.mountain_counties()``).
    travel_time_min, radius_km
        Exactly one: the limit in road minutes, or in great-circle km.
    matrix
        ``scenario.data.travel_matrix``: a user matrix replacing the road model. Its origins are
        the demand layer's ``demand_id_column`` values (``key``: township codes when demand is
        aggregated by township) and its destinations the candidates' ``candidate_id_column``;
        pairs beyond ``travel_time_min`` are dropped.

    Returns
    -------
    scipy.sparse.csr_array
        (demand x candidate) minutes (km with ``radius_km``) of every pair within the limit.
    """
    if (travel_time_min is None) == (radius_km is None):
        raise InputError("give exactly one of travel_time_min and radius_km")
    if matrix is not None:
        if travel_time_min is None:
            raise InputError("a travel matrix gives minutes: use travel_time_min, not radius_km")
        for layer, col, what in (
            (demand, demand_id_column, "demand"),
            (candidates, candidate_id_column, "candidates"),
        ):
            if col not in layer.columns:
                raise InputError(f"{what}: no id column {col!r} to match the travel matrix")
        full = read_travel_matrix(
            matrix.path,
            origin_ids=[str(v) for v in demand[demand_id_column]],
            destination_ids=[str(v) for v in candidates[candidate_id_column]],
            origin_column=matrix.origin_column,
            destination_column=matrix.destination_column,
            value_column=matrix.value_column,
        )
        return limit_matrix(full, limit=travel_time_min)
    d = layer_lonlat(demand, "demand")
    c = layer_lonlat(candidates, "candidates")
    if radius_km is not None:
        return within_radius(d, c, radius_km=radius_km)
    assert travel_time_min is not None
    mountain = {str(m) for m in mountain_counties}
    return within_minutes(
        d,
        c,
        limit_min=travel_time_min,
        model=model,
        demand_mountain=_mountain_flags(demand, mountain),
        candidate_mountain=_mountain_flags(candidates, mountain),
    )
