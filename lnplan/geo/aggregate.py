"""Households -> weighted demand points, and the same aggregation made safe to show.

Demand points for the solvers
-----------------------------
:func:`aggregate_households` groups household points by township (``township_code``), by a
regular grid in :data:`lnplan.geo.boundaries.METRIC_CRS` (square cells of ``cell_km``), or by H3
cell (``h3_resolution``, h3 v4). Each demand point is the household-weighted centroid of its
households, with ``households`` (count), ``weight`` (sum of ``weight_column``, default the count)
and ``persons`` where the layer has it. ``household_index`` links every household row back to its
demand point, so results on demand points can be reported per household, township or county.

Safe to show (privacy)
----------------------
Household points are personal data. A shared map or table may show only cells holding at least
``min_households`` households (5 by default, never less: :data:`MIN_HOUSEHOLDS`).
:func:`protect_small_cells` merges every smaller cell into its nearest neighbouring cell
(repeatedly, until none is small) or suppresses it; :func:`shareable_cells` is the one function
the maps and report layers call: households in, cell polygons with counts (and sums of any
household columns) out, with no cell under the minimum. Cells are shown as their cell polygons
(grid squares, H3 hexagons; merged cells as the union of their members) or, for townships, as the
township's official point when a townships layer is given, never as household centroids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import geopandas as gpd
import h3
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from lnplan.errors import CRSError, InputError
from lnplan.geo import boundaries

logger = logging.getLogger(__name__)

Method = Literal["township", "grid", "h3"]
IntArray = npt.NDArray[np.int64]

#: The smallest number of households a shown cell may hold; callers may only raise it.
MIN_HOUSEHOLDS = 5


@dataclass(frozen=True)
class DemandPoints:
    """Weighted demand points and the link back from households.

    Attributes
    ----------
    points
        GeoDataFrame (EPSG:4326), one row per demand point in the order of ``demand_id``
        (0, 1, ...): ``demand_id``, ``key`` (township code, grid cell ``E<ix>N<iy>`` or H3 id;
        a merged cell is ``<first member key>+<number of other members>``), ``households``,
        ``weight``, ``persons`` (when present), ``county_code`` (of most of its households, when
        present), and the household-weighted centroid as geometry.
    household_index
        For every household row (in the input order), the ``demand_id`` of its point, or -1 for
        a household whose cell was suppressed.
    cells
        The shareable geometry of every demand point (cell polygons, or points for townships).
    method
        ``township``, ``grid`` or ``h3``.
    """

    points: gpd.GeoDataFrame
    household_index: IntArray
    cells: gpd.GeoSeries
    method: Method


def _check_households(households: gpd.GeoDataFrame) -> None:
    if not isinstance(households, gpd.GeoDataFrame):
        raise InputError("households: expected a GeoDataFrame of points")
    if households.crs is None:
        raise CRSError("households: the layer has no CRS; expected EPSG:4326")
    if len(households) and not (households.geom_type == "Point").all():
        raise InputError("households: every geometry must be a Point")


def _grid_cell(ix: int, iy: int, cell_m: float) -> shapely.Geometry:
    return shapely.box(ix * cell_m, iy * cell_m, (ix + 1) * cell_m, (iy + 1) * cell_m)


def aggregate_households(
    households: gpd.GeoDataFrame,
    *,
    by: Method = "grid",
    cell_km: float = 2.0,
    h3_resolution: int = 7,
    weight_column: str | None = None,
    townships: gpd.GeoDataFrame | None = None,
) -> DemandPoints:
    """Group households into weighted demand points (see the module docstring).

    Parameters
    ----------
    households
        Points (any CRS; converted to EPSG:4326), with ``township_code`` when ``by="township"``.
    by
        ``township``, ``grid`` or ``h3``.
    cell_km
        Grid cell side in km (``by="grid"``).
    h3_resolution
        H3 resolution 0-15 (``by="h3"``; 7 is about 5 km², 8 about 0.7 km²).
    weight_column
        Column summed into ``weight`` (e.g. ``persons``); default: one per household.
    townships
        Optional township layer (``code``, point geometry) used as the shown position of
        township demand points.
    """
    _check_households(households)
    hh = households.to_crs(boundaries.WGS84)
    n = len(hh)
    lon = hh.geometry.x.to_numpy(dtype=np.float64)
    lat = hh.geometry.y.to_numpy(dtype=np.float64)
    if weight_column is not None and weight_column not in hh.columns:
        raise InputError(f"households: no column {weight_column!r} to weight by")
    weight = (
        np.ones(n)
        if weight_column is None
        else pd.to_numeric(hh[weight_column], errors="coerce").to_numpy(dtype=np.float64)
    )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise InputError(f"households: column {weight_column!r} must hold numbers >= 0")

    if by == "township":
        if "township_code" not in hh.columns:
            raise InputError("households: by='township' needs a township_code column")
        keys = hh["township_code"].astype(str).to_numpy()
    elif by == "grid":
        if not (cell_km > 0 and np.isfinite(cell_km)):
            raise InputError(f"cell_km must be a number > 0, got {cell_km}")
        to_m = Transformer.from_crs(boundaries.WGS84, boundaries.METRIC_CRS, always_xy=True)
        x, y = to_m.transform(lon, lat)
        cell_m = cell_km * 1000.0
        ix = np.floor(np.asarray(x) / cell_m).astype(np.int64)
        iy = np.floor(np.asarray(y) / cell_m).astype(np.int64)
        keys = np.char.add(np.char.add("E", ix.astype(str)), np.char.add("N", iy.astype(str)))
    elif by == "h3":
        if not 0 <= h3_resolution <= 15:
            raise InputError(f"h3_resolution must be 0-15, got {h3_resolution}")
        keys = np.array(
            [h3.latlng_to_cell(a, b, h3_resolution) for a, b in zip(lat, lon, strict=True)],
            dtype=object,
        ).astype(str)
    else:
        raise InputError(f"unknown aggregation {by!r}; accepted: township, grid, h3")

    uniq, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.astype(np.int64)
    k = len(uniq)
    count = np.bincount(inverse, minlength=k).astype(np.int64)
    wsum = np.bincount(inverse, weights=weight, minlength=k)
    cx = np.bincount(inverse, weights=lon, minlength=k) / np.maximum(count, 1)
    cy = np.bincount(inverse, weights=lat, minlength=k) / np.maximum(count, 1)
    frame = pd.DataFrame(
        {"demand_id": np.arange(k), "key": uniq.astype(str), "households": count, "weight": wsum}
    )
    if "persons" in hh.columns:
        frame["persons"] = np.bincount(
            inverse, weights=hh["persons"].to_numpy(dtype=np.float64), minlength=k
        ).astype(np.int64)
    if "county_code" in hh.columns:
        majority = (
            pd.DataFrame({"d": inverse, "c": hh["county_code"].astype(str).to_numpy()})
            .groupby(["d", "c"])
            .size()
            .reset_index(name="n")
            .sort_values(["d", "n", "c"], ascending=[True, False, True])
            .drop_duplicates("d")
            .set_index("d")["c"]
        )
        frame["county_code"] = majority.reindex(np.arange(k)).to_numpy()
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(cx, cy), crs=boundaries.WGS84)

    if by == "grid":
        parts = [s[1:].split("N") for s in uniq.astype(str)]
        polys = [_grid_cell(int(a), int(b), cell_km * 1000.0) for a, b in parts]
        cells = gpd.GeoSeries(polys, crs=boundaries.METRIC_CRS).to_crs(boundaries.WGS84)
    elif by == "h3":
        polys = [
            shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(str(c))])
            for c in uniq.astype(str)
        ]
        cells = gpd.GeoSeries(polys, crs=boundaries.WGS84)
    else:
        shown = points.geometry.copy()
        if townships is not None:
            pos = townships.to_crs(boundaries.WGS84).set_index(townships["code"].astype(str))
            official = pd.Series(uniq.astype(str)).map(pos.geometry)
            shown = gpd.GeoSeries(
                np.where(official.isna(), shown.to_numpy(), official.to_numpy()),
                crs=boundaries.WGS84,
            )
        cells = gpd.GeoSeries(shown.to_numpy(), crs=boundaries.WGS84)
    logger.debug("aggregated %d households into %d %s demand points", n, k, by)
    return DemandPoints(points=points, household_index=inverse, cells=cells, method=by)


def _unit_xyz(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> npt.NDArray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _merged_key(keys: pd.Series) -> str:
    members = sorted(keys)
    return members[0] if len(members) == 1 else f"{members[0]}+{len(members) - 1}"


def protect_small_cells(
    demand: DemandPoints,
    *,
    min_households: int = MIN_HOUSEHOLDS,
    how: Literal["merge", "suppress"] = "merge",
) -> DemandPoints:
    """Merge (or suppress) every demand point with fewer than ``min_households`` households.

    ``merge``: each small cell joins its nearest cell (by centroid), repeated until no cell is
    small; if all households together are fewer than the minimum, everything is suppressed.
    ``suppress``: small cells are dropped and their households get ``household_index = -1``.
    Weights and counts of the kept cells are sums of their members, so with ``merge`` the total
    weight is preserved exactly.
    """
    if min_households < MIN_HOUSEHOLDS:
        raise InputError(
            f"min_households must be at least {MIN_HOUSEHOLDS} (privacy), got {min_households}"
        )
    if how not in ("merge", "suppress"):
        raise InputError(f"how must be 'merge' or 'suppress', got {how!r}")
    pts = demand.points
    k = len(pts)
    count = pts["households"].to_numpy(dtype=np.int64)
    lon = pts.geometry.x.to_numpy(dtype=np.float64)
    lat = pts.geometry.y.to_numpy(dtype=np.float64)
    group = np.arange(k)
    if how == "merge":
        if count.sum() < min_households:
            group = np.full(k, -1)
        while True:
            live = np.unique(group[group >= 0])
            g_count = np.bincount(group[group >= 0], weights=count[group >= 0], minlength=k)
            small = live[g_count[live] < min_households]
            if len(small) == 0 or len(live) < 2:
                break
            g_lon = np.bincount(group, weights=lon * count, minlength=k)[live] / g_count[live]
            g_lat = np.bincount(group, weights=lat * count, minlength=k)[live] / g_count[live]
            tree = cKDTree(_unit_xyz(g_lon, g_lat))
            pos = np.searchsorted(live, small)
            _, nn = tree.query(_unit_xyz(g_lon[pos], g_lat[pos]), k=2)
            target = live[np.where(nn[:, 0] == pos, nn[:, 1], nn[:, 0])]
            edges = sparse.coo_array((np.ones(len(small)), (small, target)), shape=(k, k)).tocsr()
            _, labels = connected_components(edges, directed=False)
            # each new group is named by its smallest member cell
            rep = pd.Series(np.arange(k)).groupby(labels).transform("min").to_numpy()
            group = np.where(group >= 0, rep[np.maximum(group, 0)], -1)
    else:
        group = np.where(count >= min_households, group, -1)

    kept = np.unique(group[group >= 0])
    new_id = np.full(k, -1, dtype=np.int64)
    new_id[kept] = np.arange(len(kept))
    member_new = np.where(group >= 0, new_id[np.maximum(group, 0)], -1)
    frame = pd.DataFrame({"new": member_new, "key": pts["key"].to_numpy()})
    valid = member_new >= 0
    agg: dict[str, npt.NDArray] = {}
    for col in ("households", "weight", "persons"):
        if col in pts.columns:
            agg[col] = np.bincount(
                member_new[valid],
                weights=pts[col].to_numpy(dtype=np.float64)[valid],
                minlength=len(kept),
            )
    keys = frame[valid].groupby("new")["key"].apply(_merged_key)
    c = count[valid].astype(np.float64)
    cx = np.bincount(member_new[valid], weights=lon[valid] * c, minlength=len(kept))
    cy = np.bincount(member_new[valid], weights=lat[valid] * c, minlength=len(kept))
    hh = np.maximum(agg["households"], 1)
    out = pd.DataFrame(
        {
            "demand_id": np.arange(len(kept)),
            "key": keys.reindex(np.arange(len(kept))).to_numpy(),
            "households": agg["households"].astype(np.int64),
            "weight": agg["weight"],
        }
    )
    if "persons" in agg:
        out["persons"] = agg["persons"].astype(np.int64)
    if "county_code" in pts.columns:
        # the county of the largest member
        order = np.lexsort((np.arange(k), -count))
        first = pd.Series(pts["county_code"].to_numpy()[order], index=member_new[order])
        first = first[first.index >= 0]
        out["county_code"] = first.groupby(level=0).first().reindex(np.arange(len(kept))).values
    points = gpd.GeoDataFrame(
        out, geometry=gpd.points_from_xy(cx / hh, cy / hh), crs=boundaries.WGS84
    )
    cell_geoms = demand.cells.to_numpy()
    merged = []
    for g in range(len(kept)):
        members = cell_geoms[member_new == g]
        merged.append(members[0] if len(members) == 1 else shapely.union_all(members))
    if demand.method == "township":
        # merged townships are shown at the point of their largest member, not as a union
        merged = []
        for g in range(len(kept)):
            idx = np.flatnonzero(member_new == g)
            merged.append(cell_geoms[idx[np.argmax(count[idx])]])
    cells = gpd.GeoSeries(merged, crs=boundaries.WGS84)
    old_to_new = member_new
    hh_index = np.where(
        demand.household_index >= 0, old_to_new[np.maximum(demand.household_index, 0)], -1
    )
    return replace(demand, points=points, household_index=hh_index.astype(np.int64), cells=cells)


def shareable_cells(
    households: gpd.GeoDataFrame,
    *,
    by: Method = "grid",
    cell_km: float = 2.0,
    h3_resolution: int = 7,
    min_households: int = MIN_HOUSEHOLDS,
    how: Literal["merge", "suppress"] = "merge",
    value_columns: Sequence[str] = (),
    townships: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Households -> cells safe to show: counts per cell, no cell under ``min_households``.

    Parameters
    ----------
    households
        Household points (personal data; only their counts leave this function).
    value_columns
        Numeric or boolean household columns to sum per cell (e.g. ``covered``, ``persons``).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per shown cell: ``cell`` (key), ``households``, the sums of
        ``value_columns``, and the cell's geometry (polygon, or township point). The GeoDataFrame
        has ``attrs["min_households"]`` and ``attrs["suppressed_households"]``.
    """
    demand = aggregate_households(
        households, by=by, cell_km=cell_km, h3_resolution=h3_resolution, townships=townships
    )
    safe = protect_small_cells(demand, min_households=min_households, how=how)
    idx = safe.household_index
    valid = idx >= 0
    out = pd.DataFrame(
        {"cell": safe.points["key"].to_numpy(), "households": safe.points["households"].to_numpy()}
    )
    for col in value_columns:
        if col not in households.columns:
            raise InputError(f"households: no column {col!r} to sum per cell")
        values = pd.to_numeric(households[col], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise InputError(f"households: column {col!r} must be numeric or boolean")
        sums = np.bincount(idx[valid], weights=values[valid], minlength=len(out))
        out[col] = sums.astype(np.int64) if np.all(sums == np.round(sums)) else sums
    gdf = gpd.GeoDataFrame(out, geometry=safe.cells.to_numpy(), crs=boundaries.WGS84)
    gdf.attrs["min_households"] = min_households
    gdf.attrs["suppressed_households"] = int((~valid).sum())
    if len(gdf) and gdf["households"].min() < min_households:  # pragma: no cover - invariant
        raise AssertionError("a shown cell holds fewer households than the minimum")
    return gdf


def suppress_small_counts(
    frame: pd.DataFrame, columns: list[str], *, minimum: int = MIN_HOUSEHOLDS
) -> pd.DataFrame:
    """A copy of ``frame`` with counts from 1 to ``minimum - 1`` blanked (shown as missing).

    For tables and layers of places (townships, counties) whose counts of people could point to
    a household when small; zero stays zero. ``minimum`` is never below :data:`MIN_HOUSEHOLDS`.
    """
    if minimum < MIN_HOUSEHOLDS:
        raise InputError(f"minimum must be at least {MIN_HOUSEHOLDS} (privacy), got {minimum}")
    out = frame.copy()
    for col in columns:
        values = out[col]
        out[col] = values.astype("Int64").mask((values > 0) & (values < minimum))
    return out
