"""The fitness demonstration sites programme: choose ``sites.p`` sites for severely disabled people.

Steps (registered in :mod:`lnplan.programs`, section ``sites`` of the scenario):

1. **Demand**: households of severely disabled people aggregated into weighted demand points
   (``sites.demand``: grid cells of ``grid_cell_km``, H3 cells or townships), weight = households.
2. **Reach**: road travel time (``sites.coverage_by = "travel_time"``, limit
   ``sites.travel_time_min``, road model of ``scenario.travel`` or the user's
   ``data.travel_matrix``) or great-circle distance (``"distance"``, ``sites.radius_km``) from
   every demand point to every candidate site.
3. **Model** (``sites.objective``, :mod:`lnplan.optimize.siting`):
   ``mclp`` (default) maximises households within reach of ``p`` sites; ``pmedian`` minimises
   total household travel; ``pcenter`` the longest travel; ``setcover`` the fewest sites that reach
   every reachable household. Every city gets at least ``sites.min_sites_per_city`` new sites
   (capped at its number of candidates) and at most ``sites.max_sites_per_city``; candidates in
   ``sites.exclude_candidates`` are not chosen. Facilities of ``sites.existing_kinds`` (e.g. the
   county rehabilitation centres) are open already: they cover households and take demand, but
   count neither towards ``p`` nor towards the city quotas.
4. **Outputs** (aggregates only): tables ``sites`` (new and existing sites with their catchment
   households), ``coverage_by_city``, ``coverage_by_county``; layers ``sites`` and
   ``existing_sites`` (points), ``catchments`` (each site's service area: the outline of the
   shareable cells it serves, only for catchments of at least ``maps.min_cell_households``) and
   ``coverage`` (shareable cells with households, covered households and the covered share,
   small cells merged).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from lnplan.errors import InputError, LnplanError
from lnplan.geo.boundaries import METRIC_CRS, WGS84
from lnplan.optimize.result import outcome_record

if TYPE_CHECKING:
    from lnplan.optimize.siting import SitingResult
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import Scenario
    from lnplan.world import World

logger = logging.getLogger(__name__)

NAME = "fitness_sites"
SECTION = "sites"


def run(scenario: Scenario, world: World, out_dir: Path) -> ProgrammeOutput:
    """Choose the sites; see the module docstring."""
    from lnplan.geo.aggregate import aggregate_households, shareable_cells
    from lnplan.geo.travel import MAX_DENSE_CELLS, RoadModel, coverage_for_layers, layer_lonlat
    from lnplan.optimize.siting import (
        CenterProblem,
        CoverageProblem,
        Equity,
        MedianProblem,
        SetCoverProblem,
        SiteRules,
        SolveParams,
        solve_max_coverage,
        solve_p_center,
        solve_p_median,
        solve_set_cover,
    )
    from lnplan.programs import ProgrammeOutput

    sec = scenario.sites
    if sec is None:
        raise InputError("the scenario has no [sites] section")
    if world.candidates.empty:
        raise InputError("no candidate sites in the world: nothing to choose from")
    cands, existing = _site_columns(world, sec.existing_kinds)
    n_new = len(cands) - existing.size
    excluded = _excluded(cands.iloc[:n_new], sec.exclude_candidates)
    demand = aggregate_households(
        world.households,
        by=sec.demand,
        cell_km=sec.grid_cell_km,
        h3_resolution=sec.h3_resolution,
        townships=world.townships,
    )
    pts = demand.points.reset_index(drop=True)
    weights = pts["weight"].to_numpy(dtype=np.float64)
    if sec.objective in ("pmedian", "pcenter") and len(pts) * len(cands) > MAX_DENSE_CELLS:
        raise InputError(
            f"sites.objective {sec.objective!r} weighs the travel from every demand point to "
            f"every candidate: {len(pts):,} points x {len(cands):,} candidates is over the "
            f"limit of {MAX_DENSE_CELLS:,} pairs. Use fewer demand points "
            f'(sites.demand = "township", or a larger sites.grid_cell_km than '
            f'{sec.grid_cell_km:g}), or the objective "mclp"'
        )
    model = RoadModel.from_scenario(scenario.travel)
    mountain = world.mountain_counties()
    by_time = sec.coverage_by == "travel_time"
    cover = coverage_for_layers(
        pts,
        cands,
        model=model,
        mountain_counties=mountain,
        travel_time_min=sec.travel_time_min if by_time else None,
        radius_km=None if by_time else sec.radius_km,
        matrix=scenario.data.travel_matrix if by_time else None,
    )
    # Every city gets its minimum of new sites (no more than it has candidates left); existing
    # sites form a group of their own, outside the quotas.
    city = cands["city_code"].astype(str).to_numpy()[:n_new]
    codes, group = np.unique(city, return_inverse=True)
    allowed = np.ones(n_new, dtype=bool)
    allowed[excluded] = False
    counts = np.bincount(group[allowed], minlength=codes.size)
    group_min = {g: int(min(sec.min_sites_per_city, counts[g])) for g in range(codes.size)}
    group_max = (
        {}
        if sec.max_sites_per_city is None
        else {g: sec.max_sites_per_city for g in range(codes.size)}
    )
    all_groups = np.concatenate([group, np.full(existing.size, codes.size)]).astype(np.int64)
    name_of_city = dict(
        zip(
            world.county_indicators["city_code"].astype(str),
            world.county_indicators["city"].astype(str),
            strict=False,
        )
    )
    group_names = {g: name_of_city.get(str(c), str(c)) for g, c in enumerate(codes)}
    group_names[codes.size] = "existing sites"
    capacity = _per_candidate(cands, sec.capacity_households, sec.capacity_column, "capacity")
    cost = _per_candidate(cands, sec.site_cost_yuan, sec.site_cost_column, "site cost")
    if cost is not None:
        cost[n_new:] = 0.0  # existing sites are paid for
    # sites.keep_candidates (lnplan.stability, --baseline): chosen for certain, counted in p.
    kept = np.setdiff1d(_excluded(cands.iloc[:n_new], sec.keep_candidates), excluded)
    rules = SiteRules(
        existing=np.concatenate([existing, kept]).astype(np.int64),
        excluded=excluded,
        candidate_group=all_groups,
        group_min=group_min,
        group_max=group_max,
        group_names=group_names,
        capacity=capacity,
        site_cost_yuan=cost,
        budget_yuan=sec.budget_yuan,
    )
    n_open = sec.p + existing.size
    county_of = pts["county_code"].astype(str).to_numpy() if "county_code" in pts else None
    city_of_county = dict(
        zip(
            world.county_indicators["county_code"].astype(str),
            world.county_indicators["city_code"].astype(str),
            strict=False,
        )
    )
    groups = {}
    if county_of is not None:
        groups["county"] = county_of
        groups["city"] = np.array([city_of_county.get(c, c[:4] + "00") for c in county_of])
    params = SolveParams(
        time_limit_s=sec.time_limit_s,
        seed=scenario.seed,
        max_nodes=sec.max_nodes,
        max_iterations=sec.max_iterations,
    )

    if sec.objective == "mclp":
        equity = None
        if sec.equity != "none":
            if "city" not in groups:
                raise InputError("sites.equity needs demand points with a county_code column")
            # Demand cities as the candidates' city groups, so messages name the city.
            index_of = {str(c): g for g, c in enumerate(codes)}
            city_group = np.array([index_of.get(str(c), -1) for c in groups["city"]], np.int64)
            equity = Equity(groups=city_group, mode=sec.equity, floor=sec.equity_floor)
        result = solve_max_coverage(
            CoverageProblem(weights, cover, n_open, rules), params, equity=equity, groups=groups
        )
    elif sec.objective == "setcover":
        reach = np.diff(sparse.csr_array(cover).indptr) > 0
        share = float(weights[reach].sum() / max(weights.sum(), 1e-12))
        result = solve_set_cover(
            SetCoverProblem(weights, cover, share, rules), params, groups=groups
        )
    else:
        from lnplan.geo.travel import travel_time_matrix_min

        a = layer_lonlat(pts, "demand points")
        b = layer_lonlat(cands, "candidates")
        a_m = (
            pts["county_code"].astype(str).isin(mountain).to_numpy()
            if county_of is not None
            else None
        )
        b_m = cands["county_code"].astype(str).isin(mountain).to_numpy()
        cost = travel_time_matrix_min(a, b, model=model, a_mountain=a_m, b_mountain=b_m)
        if sec.objective == "pmedian":
            result = solve_p_median(
                MedianProblem(weights, cost, n_open, rules=rules), params, groups=groups
            )
        else:
            result = solve_p_center(
                CenterProblem(weights, cost, n_open, rules), params, groups=groups
            )
    if result.status == "no_solution_in_limit":
        # A time-out or a spent work limit is not infeasibility: say which settings to raise.
        if result.runtime_s >= 0.95 * sec.time_limit_s:
            raise LnplanError(
                f"no choice of sites was found before the safety cap sites.time_limit_s = "
                f"{sec.time_limit_s:g} s ({result.engine}; its LP relaxation alone can take "
                "longer on large capacitated models): raise sites.time_limit_s, or shorten "
                "sites.travel_time_min"
            )
        raise LnplanError(
            f"no choice of sites was found within sites.max_nodes = {sec.max_nodes} nodes "
            f"({result.engine}): raise sites.max_nodes"
        )
    return _output(
        ProgrammeOutput,
        scenario,
        world,
        demand,
        pts,
        cands,
        existing,
        cover,
        result,
        by_time,
        shareable_cells,
    )


def _per_candidate(
    cands: pd.DataFrame, value: float | None, column: str | None, what: str
) -> np.ndarray | None:
    """One number per candidate from a scenario value and/or a candidate column; None without."""
    if value is None and column is None:
        return None
    out = np.full(len(cands), np.nan if value is None else float(value))
    if column is not None:
        if column not in cands.columns:
            raise InputError(
                f"sites: candidate column {column!r} for the {what} is missing; the candidates "
                f"have {', '.join(map(str, cands.columns))}"
            )
        col = pd.to_numeric(cands[column], errors="coerce").to_numpy(dtype=np.float64)
        out = np.where(np.isfinite(col), col, out)
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"sites: candidate {cands['candidate_id'].iloc[row]!r} has no valid {what} "
            f"(column {column!r}); give a number >= 0 or a default in the scenario"
        )
    return out


_SITE_COLUMNS = ["candidate_id", "kind", "name", "county_code", "city_code"]


def _site_columns(world: World, existing_kinds: list[str]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The model's columns: the candidates, then the facilities of ``existing_kinds``.

    Returns the combined layer (``candidate_id`` holds the facility_id of existing sites) and the
    positions of the existing sites in it.
    """
    cands = world.candidates.reset_index(drop=True)
    if not existing_kinds:
        return cands, np.zeros(0, np.int64)
    fac = world.facilities
    kinds = sorted(fac["kind"].astype(str).unique()) if "kind" in fac else []
    unknown = [k for k in existing_kinds if k not in kinds]
    if unknown:
        raise InputError(
            f"sites.existing_kinds: no facility of kind {', '.join(map(repr, unknown))}; "
            f"the facilities layer has the kinds {', '.join(map(repr, kinds)) or '(none)'}"
        )
    chosen = fac[fac["kind"].astype(str).isin(existing_kinds)].rename(
        columns={"facility_id": "candidate_id"}
    )
    chosen = chosen.to_crs(cands.crs)
    cols = [c for c in _SITE_COLUMNS if c in cands.columns and c in chosen.columns]
    both = pd.concat([cands[[*cols, "geometry"]], chosen[[*cols, "geometry"]]], ignore_index=True)
    clash = set(cands["candidate_id"].astype(str)) & set(chosen["candidate_id"].astype(str))
    if clash:
        raise InputError(
            f"facility_id {sorted(clash)[0]!r} is also a candidate_id; ids must tell candidate "
            "sites and existing facilities apart"
        )
    layer = gpd.GeoDataFrame(both, geometry="geometry", crs=cands.crs)
    return layer, np.arange(len(cands), len(layer), dtype=np.int64)


def _excluded(cands: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """Positions of the candidates named in ``sites.exclude_candidates``; unknown ids are errors."""
    if not ids:
        return np.zeros(0, np.int64)
    known = cands["candidate_id"].astype(str)
    pos = pd.Series(np.arange(len(known)), index=known.to_numpy())
    unknown = [i for i in ids if i not in pos.index]
    if unknown:
        raise InputError(
            f"sites.exclude_candidates: unknown candidate_id {', '.join(map(repr, unknown[:5]))}"
            f"{' and more' if len(unknown) > 5 else ''}; ids look like "
            f"{', '.join(map(repr, known.head(3)))}"
        )
    return np.unique(pos.loc[ids].to_numpy()).astype(np.int64)


def _output(
    output_cls: type,
    scenario: Scenario,
    world: World,
    demand: object,
    pts: gpd.GeoDataFrame,
    cands: gpd.GeoDataFrame,
    existing: np.ndarray,
    cover: sparse.csr_array,
    result: SitingResult,
    by_time: bool,
    shareable_cells: object,
) -> ProgrammeOutput:
    sec = scenario.sites
    assert sec is not None
    weights = pts["weight"].to_numpy(dtype=np.float64)
    households = pts["households"].to_numpy(dtype=np.int64)
    assigned = result.assignment
    # Covered = within reach of its assigned site (p-median/p-center assign every point).
    mat = sparse.csr_array(cover)
    covered = np.zeros(len(pts), dtype=bool)
    has = np.flatnonzero(assigned >= 0)
    if has.size:
        covered[has] = np.asarray(mat[has, assigned[has]]).ravel() != 0
    chosen = result.chosen
    is_existing = np.isin(chosen, existing)
    new_sites = chosen[~is_existing]
    catch_hh = np.bincount(assigned[has], weights=households[has], minlength=len(cands))
    sites = cands.iloc[chosen][_SITE_COLUMNS].copy()
    sites.insert(1, "status", np.where(is_existing, "existing", "new"))
    sites["catchment_households"] = catch_hh[chosen].astype(np.int64)
    # For the map's popups: households within reach of each site, and those only it reaches.
    reach_of = sparse.csr_array(mat[:, chosen]).astype(np.int64)
    n_reach = np.asarray(reach_of.sum(axis=1)).ravel()
    sites["households_within_reach"] = np.asarray(reach_of.T @ households).ravel()
    sites["households_only_this_site"] = np.asarray(
        reach_of.T @ np.where(n_reach == 1, households, 0)
    ).ravel()
    sites = sites.sort_values("status", kind="stable", key=lambda s: s != "new")
    by_existing = np.zeros(len(pts), dtype=bool)
    if existing.size:
        by_existing = np.asarray(mat[:, existing].sum(axis=1)).ravel() > 0
    sites_layer = gpd.GeoDataFrame(
        sites.assign(geometry=cands.geometry.loc[sites.index].to_numpy()), crs=cands.crs
    )
    sites_table = pd.DataFrame(sites)
    county_city = dict(
        zip(
            world.county_indicators["county_code"].astype(str),
            world.county_indicators["city_code"].astype(str),
            strict=False,
        )
    )
    frame = pd.DataFrame(
        {
            "county_code": pts["county_code"].astype(str).to_numpy(),
            "households": households,
            "covered_households": np.where(covered, households, 0),
        }
    )
    frame["city_code"] = [county_city.get(c, c[:4] + "00") for c in frame["county_code"]]

    def table(level: str) -> pd.DataFrame:
        col = f"{level}_code"
        agg = frame.groupby(col, as_index=False)[["households", "covered_households"]].sum()
        agg["coverage_rate"] = (agg["covered_households"] / agg["households"].clip(lower=1)).round(
            4
        )
        n_sites = cands.iloc[new_sites][col].astype(str).value_counts()
        agg["sites"] = agg[col].map(n_sites).fillna(0).astype(int)
        if existing.size:
            n_old = cands.iloc[chosen[is_existing]][col].astype(str).value_counts()
            agg["existing_sites"] = agg[col].map(n_old).fillna(0).astype(int)
        return agg

    hh_covered = np.zeros(len(world.households), dtype=np.int64)
    idx = demand.household_index  # type: ignore[attr-defined]
    ok = idx >= 0
    hh_covered[ok] = covered[idx[ok]].astype(np.int64)
    cells = shareable_cells(  # type: ignore[operator]
        world.households.assign(covered=hh_covered),
        by=sec.demand,
        cell_km=sec.grid_cell_km,
        h3_resolution=sec.h3_resolution,
        min_households=scenario.maps.min_cell_households,
        value_columns=["covered"],
        townships=world.townships,
    )
    cells["covered_share"] = (cells["covered"] / cells["households"].clip(lower=1)).round(3)
    cells.attrs.update(value_column="covered_share", map_label="coverage (share of households)")
    catchments = _catchments(
        demand.cells,  # type: ignore[attr-defined]
        assigned,
        covered,
        households,
        sites_layer,
        min_households=scenario.maps.min_cell_households,
    )
    reach = (
        f"{sec.travel_time_min:g} min by road" if by_time else f"{sec.radius_km:g} km straight line"
    )
    layers = {"catchments": catchments, "coverage": cells}
    new_layer = sites_layer[sites_layer["status"] == "new"]
    new_layer.attrs.update(value_column="catchment_households", map_label="sites (new)")
    layers["sites"] = new_layer
    if existing.size:
        old_layer = sites_layer[sites_layer["status"] == "existing"]
        old_layer.attrs.update(
            value_column="catchment_households", map_label="existing sites", colour="#555555"
        )
        layers["existing_sites"] = old_layer
    summary = {
        "objective": sec.objective,
        "sites": int(new_sites.size),
        "existing_sites": int(is_existing.sum()),
        "covered_by_existing_households": int(households[by_existing].sum()),
        "status": result.status,
        "objective_value": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "runtime_s": round(result.runtime_s, 3),
        "engine": result.engine,
        "reach": reach,
        "households": int(households.sum()),
        "covered_households": int(households[covered].sum()),
        "coverage_rate": round(float(weights[covered].sum() / max(weights.sum(), 1e-12)), 4),
        "min_sites_per_city": sec.min_sites_per_city,
        "max_sites_per_city": sec.max_sites_per_city,
        "label": world.label,
    }
    logger.info(
        "fitness sites: %d new sites, %s, %d of %d households within %s",
        new_sites.size,
        result.status,
        summary["covered_households"],
        summary["households"],
        reach,
    )
    out: ProgrammeOutput = output_cls(
        name=NAME,
        tables={
            "sites": sites_table,
            "coverage_by_city": table("city"),
            "coverage_by_county": table("county"),
        },
        layers=layers,
        summary=summary,
        models={"siting": outcome_record(result)},
    )
    return out


def _catchments(
    cells: gpd.GeoSeries,
    assigned: np.ndarray,
    covered: np.ndarray,
    households: np.ndarray,
    sites_layer: gpd.GeoDataFrame,
    *,
    min_households: int,
) -> gpd.GeoDataFrame:
    """One outline per site: the convex hull of the demand cells it serves within reach.

    A hull is drawn around shareable cells (grid squares, H3 hexagons, township points; never
    household points), and only for a catchment of at least ``min_households`` households, so the
    layer shows service areas, not where a household lives. Hulls of neighbouring sites may
    overlap; each demand cell counts in one catchment only.
    """
    served = np.flatnonzero((assigned >= 0) & covered)
    metric = cells.to_crs(METRIC_CRS).to_numpy()
    ids = sites_layer["candidate_id"].astype(str)  # indexed by column position
    rows, geoms = [], []
    for site, pos in pd.Series(served).groupby(assigned[served]).indices.items():
        members = served[pos]
        total = int(households[members].sum())
        if total < min_households:
            continue
        # Township points alone would hull to a point or a line: widen them by 1 km.
        hull = shapely.convex_hull(shapely.GeometryCollection(list(metric[members])))
        if hull.geom_type != "Polygon":
            hull = hull.buffer(1_000.0)
        rows.append({"candidate_id": ids.get(site, str(site)), "catchment_households": total})
        geoms.append(hull)
    layer = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["candidate_id", "catchment_households"]),
        geometry=gpd.GeoSeries(geoms, crs=METRIC_CRS),
    ).to_crs(WGS84)
    layer.attrs.update(
        value_column="catchment_households",
        map_label="catchments (sites' service areas)",
        min_households=min_households,
    )
    return layer
