"""A deterministic synthetic demo world of Liaoning: SYNTHETIC DEMO DATA, not real people.

What is real and what is made up
--------------------------------
Real (shipped data, see ``data/programs/README.md``): county and city boundaries
(:mod:`lnplan.geo.boundaries`), the names, codes and kinds of the 1,354 township-level units
(Ministry of Civil Affairs codes, 2025-12-31), the 2020 census population of the 14 cities, the
list of priority counties (to verify). Everything else is made up here, and every layer carries
``synthetic = True`` (a column and ``attrs["synthetic"]``): township *positions*, households,
children, candidate sites, facilities and county indicators.

All assumptions, in one place
-----------------------------
Townships and their population
    - Each county has a *seat*: the polygon's representative point (inside it).
    - Subdistricts (街道, urban) are placed around the seat, Gaussian with sigma
      ``min(0.2 × sqrt(county area), 6 km)``; towns (镇) and townships (乡) are spread over the
      county by best-candidate sampling (of 16 random points inside the county, the one farthest
      from the units already placed), like real market towns.
    - Relative population of a unit: subdistrict 40,000; town 25,000 on the plains / 15,000 in
      the mountains; township 12,000 / 8,000 (typical sizes in North-East China). The 2020
      census population of each city is shared among its units in these proportions, giving
      ``population_est`` per township and per county (estimates, not census figures).
    - A unit is *rural* if it is a town or township; *mountain* if its county is listed in
      ``data/programs/county_terrain.csv``.
Households of severely disabled people
    - ``households_per_10k_people`` (default 70, about 300,000 households for the province:
      Liaoning has about 1.2 million certified disabled people, roughly a quarter to a third of
      them in grades 1-2) × ``households_scale``, per city in proportion to its population,
      shared among its units by ``population_est`` × 1.2 for rural units (severe disability is
      more frequent among the older rural population), by largest remainders.
    - Positions: Gaussian around the unit's point, sigma 0.8 km (subdistrict), 2.5 km (town) or
      3.5 km (township), × 1.4 in the mountains; points falling outside the county are redrawn
      (up to 30 times, then put at the unit's point). So households are dense in urban districts
      and sparse in mountain counties.
    - ``persons``: 1, or 2 with probability 0.08. ``low_income``: probability 0.12 in
      subdistricts, 0.25 in rural units, +0.10 in the mountains, +0.05 in priority counties.
Children aged 8-14 awaiting screening
    - Poisson per unit with mean ``population_est / 10,000 × children_per_10k_rural_people`` for
      rural units and a quarter of that for subdistricts (urban children are mostly screened
      at school and hospital).
Candidate fitness demonstration sites
    - The centre of every town and township (``township_centre``: its point), a community
      rehabilitation centre in a share ``rehab_centre_share`` of subdistricts
      (``community_rehab_centre``: within about 300 m of the subdistrict's point), and
      ``parks_per_county`` parks per county (``park``: Gaussian 3 km around the seat).
Existing facilities
    - A disabled persons' rehabilitation centre at every county seat (``county_rehab_centre``)
      and one per city at the seat of the city's lowest-coded district (``city_rehab_centre``).
County indicators (for the employment security fund)
    - Certified disabled people = 3 % of ``population_est``; ``working_age_disabled`` = 45 % of
      them × lognormal(0, 0.10); ``registered_unemployed_disabled`` = working age ×
      (0.10 + 0.06 mountain + 0.04 priority) × lognormal(0, 0.15);
      ``low_income_disabled_households`` = certified × (0.10 in districts, 0.22 in counties and
      county-level cities) × lognormal(0, 0.15); ``jobs_placed_last_year`` = unemployed × 0.08 ×
      lognormal(0, 0.30). Rounded to whole numbers.

Determinism
-----------
Every random draw comes from ``numpy.random.default_rng`` streams derived from ``seed`` and the
county code (``SeedSequence(seed, spawn_key=(county, purpose))``), so the same seed gives
identical layers whatever the order of work, and a change in one county does not reshuffle the
others. Coordinates are rounded to 1e-6 degree (about 0.1 m). :func:`write_gpkg` writes
GeoPackages with a fixed timestamp and :func:`write_world_csv` a canonical CSV export, both
byte-identical for the same seed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer

from lnplan.errors import InputError
from lnplan.geo import boundaries
from lnplan.scenario import DataSection, WorldSection
from lnplan.targets import (
    load_city_population,
    load_county_terrain,
    load_priority_counties,
    load_townships,
)
from lnplan.world import SYNTHETIC_LABEL, World

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Relative population of a township-level unit by (kind, mountain).
UNIT_POPULATION = {
    ("subdistrict", False): 40_000.0,
    ("subdistrict", True): 40_000.0,
    ("town", False): 25_000.0,
    ("town", True): 15_000.0,
    ("township", False): 12_000.0,
    ("township", True): 8_000.0,
}
RURAL_DISABILITY_FACTOR = 1.2
HOUSEHOLD_SIGMA_M = {"subdistrict": 800.0, "town": 2_500.0, "township": 3_500.0}
MOUNTAIN_SPREAD = 1.4
SUBDISTRICT_SIGMA_MAX_M = 6_000.0
BEST_CANDIDATE_TRIES = 16
REDRAWS = 30
#: No demo household lies closer than this to a township, candidate or facility point (all of which
#: are shared): a privacy scan of the outputs can then match household positions strictly.
HOUSEHOLD_CLEARANCE_M = 25.0
#: Shared grid cells (lnplan.geo.aggregate) have their corners on multiples of the cell size in
#: the metric CRS; no demo household lies within this distance of a point of the 100 m lattice, so
#: a strict privacy scan does not mistake a cell corner for a household.
LATTICE_M = 100.0
LATTICE_CLEARANCE_M = 2.0
TWO_PERSON_SHARE = 0.08
URBAN_CHILDREN_FACTOR = 0.25
CERTIFIED_DISABLED_SHARE = 0.03
WORKING_AGE_SHARE = 0.45

# Random-stream purposes (part of the seed of each stream; never reorder).
_PLACE, _HOUSEHOLDS, _CHILDREN, _CANDIDATES, _INDICATORS = range(5)


def _rng(seed: int, county_code: str, purpose: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(int(county_code), purpose))
    )


def _uniform_in(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` uniform points (metres) inside ``poly``."""
    minx, miny, maxx, maxy = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        k = max(4 * (n - len(out)), 16)
        pts = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        out = np.vstack([out, pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]])
    return out[:n]


def _gaussian_in(
    poly: shapely.Geometry,
    centres: FloatArray,
    sigma_m: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    """One point per centre, Gaussian around it, redrawn while outside ``poly``."""
    pts = centres + rng.normal(size=centres.shape) * sigma_m[:, None]
    outside = ~shapely.contains_xy(poly, pts[:, 0], pts[:, 1])
    for _ in range(REDRAWS):
        if not outside.any():
            break
        idx = np.flatnonzero(outside)
        pts[idx] = centres[idx] + rng.normal(size=(len(idx), 2)) * sigma_m[idx, None]
        outside[idx] = ~shapely.contains_xy(poly, pts[idx, 0], pts[idx, 1])
    pts[outside] = centres[outside]
    return pts


def _clear_of(
    xy: FloatArray, public_xy: FloatArray, clearance_m: float, rng: np.random.Generator
) -> FloatArray:
    """``xy`` (metres) with every point closer than ``clearance_m`` to a ``public_xy`` point moved
    out to ``clearance_m`` from it (away from it, or in a random direction when on it).

    Households that :func:`_gaussian_in` could not place inside their county sit on their
    township's point; this keeps them (and chance neighbours) off every shared point.
    """
    from scipy.spatial import cKDTree

    if len(xy) == 0 or len(public_xy) == 0:
        return xy
    out = xy.copy()
    tree = cKDTree(public_xy)
    for _ in range(5):  # a point moved off one public point may land near another
        dist, near = tree.query(out, k=1)
        close = np.flatnonzero(dist < clearance_m)
        if close.size == 0:
            break
        away = out[close] - public_xy[near[close]]
        norm = np.hypot(away[:, 0], away[:, 1])
        angle = rng.uniform(0.0, 2.0 * np.pi, close.size)
        random_dir = np.column_stack([np.cos(angle), np.sin(angle)])
        unit = np.where((norm > 1e-6)[:, None], away / np.maximum(norm, 1e-6)[:, None], random_dir)
        out[close] = public_xy[near[close]] + unit * clearance_m * 1.01
    return out


def _off_lattice(xy: FloatArray, step_m: float, clearance_m: float) -> FloatArray:
    """``xy`` (metres) with points closer than ``clearance_m`` to a multiple of ``step_m`` in both
    coordinates moved straight away from it to ``clearance_m`` (diagonally when on it)."""
    if len(xy) == 0:
        return xy
    corner = np.round(xy / step_m) * step_m
    away = xy - corner
    norm = np.hypot(away[:, 0], away[:, 1])
    close = norm < clearance_m
    if not close.any():
        return xy
    out = xy.copy()
    unit = np.where(
        (norm[close] > 1e-9)[:, None],
        away[close] / np.maximum(norm[close], 1e-9)[:, None],
        np.array([[np.sqrt(0.5), np.sqrt(0.5)]]),
    )
    out[close] = corner[close] + unit * clearance_m * 1.01
    return out


def _largest_remainder(total: int, weights: FloatArray) -> npt.NDArray[np.int64]:
    """Integers proportional to ``weights`` summing to ``total`` (ties to the lower index)."""
    if total == 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    quota = weights / weights.sum() * total
    base = np.floor(quota).astype(np.int64)
    rest = total - int(base.sum())
    order = np.lexsort((np.arange(len(weights)), -(quota - base)))
    base[order[:rest]] += 1
    return base


def _counties(data: DataSection) -> gpd.GeoDataFrame:
    if data.boundaries is None:
        return boundaries.counties()
    path = Path(data.boundaries) / "counties.geojson"
    if not path.is_file():
        raise InputError(f"data.boundaries: {path} not found")
    gdf = gpd.read_file(path)
    missing = [c for c in boundaries.COUNTY_COLUMNS if c not in gdf.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    gdf = gdf.to_crs(boundaries.WGS84)
    gdf["code"] = gdf["code"].astype(str)
    gdf["city_code"] = gdf["city_code"].astype(str)
    return gdf.sort_values("code").reset_index(drop=True)[boundaries.COUNTY_COLUMNS]


def _points_gdf(frame: pd.DataFrame, lonlat: FloatArray) -> gpd.GeoDataFrame:
    lonlat = np.round(lonlat, 6)
    gdf = gpd.GeoDataFrame(
        frame.reset_index(drop=True),
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]),
        crs=boundaries.WGS84,
    )
    gdf["synthetic"] = True
    gdf.attrs["synthetic"] = True
    gdf.attrs["label"] = SYNTHETIC_LABEL
    return gdf


def make_world(settings: WorldSection, seed: int, *, data: DataSection | None = None) -> World:
    """Build the synthetic demo world (see the module docstring for every assumption).

    Parameters
    ----------
    settings
        The scenario's ``world`` section (households per 10,000 people, scale, ...).
    seed
        Seed of every random draw; the same seed gives identical layers.
    data
        The scenario's ``data`` section (boundaries, townships, census, terrain, priority
        counties); default: the shipped files.
    """
    data = data or DataSection()
    counties = _counties(data)
    townships = load_townships(data.townships)
    population = load_city_population(data.city_population)
    terrain = load_county_terrain(data.county_terrain)
    priority = load_priority_counties(data.priority_counties)
    mountain_codes = set(terrain.loc[terrain["terrain"] == "mountain", "county_code"])
    priority_codes = set(priority["county_code"])

    known = set(counties["code"])
    for name, codes in (
        ("townships", set(townships["county_code"])),
        ("county_terrain", set(terrain["county_code"])),
        ("priority_counties", priority_codes),
    ):
        unknown = sorted(codes - known)
        if unknown:
            raise InputError(
                f"data.{name}: county code(s) {', '.join(unknown[:5])} are not among the "
                "boundaries' counties"
            )
    no_units = sorted(known - set(townships["county_code"]))
    if no_units:
        raise InputError(f"data.townships: no township-level units for county {no_units[0]}")
    missing_cities = sorted(set(counties["city_code"]) - set(population["city_code"]))
    if missing_cities:
        raise InputError(f"data.city_population: no population for city {missing_cities[0]}")

    counties["terrain"] = np.where(counties["code"].isin(mountain_codes), "mountain", "plain")
    metric = counties.to_crs(boundaries.METRIC_CRS)
    to_wgs = Transformer.from_crs(boundaries.METRIC_CRS, boundaries.WGS84, always_xy=True)

    def lonlat(xy: FloatArray) -> FloatArray:
        if len(xy) == 0:
            return np.zeros((0, 2))
        lon, lat = to_wgs.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    townships = townships.sort_values("code").reset_index(drop=True)
    townships["mountain"] = townships["county_code"].isin(mountain_codes)
    polys = dict(zip(metric["code"], metric.geometry, strict=True))
    for poly in polys.values():
        shapely.prepare(poly)
    seats = {c: np.array(p.representative_point().coords[0]) for c, p in polys.items()}

    # --- township positions ---
    unit_xy = np.zeros((len(townships), 2))
    for code, rows in townships.groupby("county_code", sort=True).groups.items():
        poly, seat = polys[code], seats[code]
        rng = _rng(seed, str(code), _PLACE)
        idx = np.asarray(rows)
        kinds = townships.loc[idx, "kind"].to_numpy()
        urban = idx[kinds == "subdistrict"]
        rural = idx[kinds != "subdistrict"]
        placed: list[FloatArray] = []
        if len(urban):
            sigma = min(0.2 * np.sqrt(poly.area), SUBDISTRICT_SIGMA_MAX_M)
            pts = _gaussian_in(
                poly, np.repeat(seat[None, :], len(urban), 0), np.full(len(urban), sigma), rng
            )
            unit_xy[urban] = pts
            placed.extend(pts)
        for i in rural:
            tries = _uniform_in(poly, BEST_CANDIDATE_TRIES, rng)
            if placed:
                ref = np.asarray(placed)
                dist = np.sqrt(((tries[:, None, :] - ref[None, :, :]) ** 2).sum(-1)).min(1)
                best = tries[int(np.argmax(dist))]
            else:
                best = tries[0]
            unit_xy[i] = best
            placed.append(best)

    # --- population estimates ---
    rel = np.array(
        [
            UNIT_POPULATION[(k, bool(m))]
            for k, m in zip(townships["kind"], townships["mountain"], strict=True)
        ]
    )
    city_pop = dict(zip(population["city_code"], population["population_2020"], strict=True))
    city_rel = pd.Series(rel).groupby(townships["city_code"]).transform("sum").to_numpy()
    pop_est = rel / city_rel * townships["city_code"].map(city_pop).to_numpy(dtype=np.float64)
    townships["population_est"] = np.round(pop_est).astype(np.int64)
    rural_mask = (townships["kind"] != "subdistrict").to_numpy()

    # --- household counts per unit ---
    rate = settings.households_per_10k_people / 1e4 * settings.households_scale
    hh_weight = pop_est * np.where(rural_mask, RURAL_DISABILITY_FACTOR, 1.0)
    hh_count = np.zeros(len(townships), dtype=np.int64)
    for city_code, rows in townships.groupby("city_code", sort=True).groups.items():
        idx = np.asarray(rows)
        total = round(city_pop[str(city_code)] * rate)
        hh_count[idx] = _largest_remainder(total, hh_weight[idx])
    townships["households"] = hh_count

    # --- households ---
    hh_frames, hh_xy = [], []
    for code, rows in townships.groupby("county_code", sort=True).groups.items():
        idx = np.asarray(rows)
        n = hh_count[idx]
        if n.sum() == 0:
            continue
        rng = _rng(seed, str(code), _HOUSEHOLDS)
        unit = np.repeat(idx, n)
        kinds = townships["kind"].to_numpy()[unit]
        mountain = code in mountain_codes
        sigma = np.array([HOUSEHOLD_SIGMA_M[k] for k in kinds]) * (
            MOUNTAIN_SPREAD if mountain else 1.0
        )
        pts = _gaussian_in(polys[code], unit_xy[unit], sigma, rng)
        p_low = np.where(kinds == "subdistrict", 0.12, 0.25)
        p_low = p_low + (0.10 if mountain else 0.0) + (0.05 if code in priority_codes else 0.0)
        hh_frames.append(
            pd.DataFrame(
                {
                    "township_code": townships["code"].to_numpy()[unit],
                    "county_code": str(code),
                    "city_code": townships["city_code"].to_numpy()[unit],
                    "persons": 1 + (rng.random(len(unit)) < TWO_PERSON_SHARE).astype(np.int64),
                    "low_income": rng.random(len(unit)) < p_low,
                }
            )
        )
        hh_xy.append(pts)
    if hh_frames:
        hh = pd.concat(hh_frames, ignore_index=True)
        xy = np.vstack(hh_xy)
    else:
        hh = pd.DataFrame(
            {
                "township_code": pd.Series(dtype=str),
                "county_code": pd.Series(dtype=str),
                "city_code": pd.Series(dtype=str),
                "persons": pd.Series(dtype=np.int64),
                "low_income": pd.Series(dtype=bool),
            }
        )
        xy = np.zeros((0, 2))
    width = max(7, len(str(len(hh))))
    hh.insert(0, "household_id", [f"H{i:0{width}d}" for i in range(1, len(hh) + 1)])

    # --- children awaiting screening ---
    children = np.zeros(len(townships), dtype=np.int64)
    child_rate = settings.children_per_10k_rural_people / 1e4
    for code, rows in townships.groupby("county_code", sort=True).groups.items():
        idx = np.asarray(rows)
        lam = pop_est[idx] * child_rate * np.where(rural_mask[idx], 1.0, URBAN_CHILDREN_FACTOR)
        children[idx] = _rng(seed, str(code), _CHILDREN).poisson(lam)
    townships["children_8_14"] = children

    county_info = counties.set_index("code")
    townships["county"] = townships["county_code"].map(county_info["name"])
    townships["city"] = townships["city_code"].map(
        county_info.drop_duplicates("city_code").set_index("city_code")["city"]
    )
    townships["terrain"] = np.where(townships["mountain"], "mountain", "plain")
    town_cols = [
        "code",
        "name",
        "kind",
        "county_code",
        "county",
        "city_code",
        "city",
        "terrain",
        "population_est",
        "households",
        "children_8_14",
    ]
    township_layer = _points_gdf(townships[town_cols], lonlat(unit_xy))

    # --- candidates ---
    cand_rows, cand_xy = [], []
    for code, rows in townships.groupby("county_code", sort=True).groups.items():
        idx = np.asarray(rows)
        rng = _rng(seed, str(code), _CANDIDATES)
        county = county_info.loc[code]
        for i in idx:
            kind = str(townships.at[i, "kind"])
            name = str(townships.at[i, "name"])
            if kind != "subdistrict":
                cand_rows.append(("township_centre", f"{name}中心", townships.at[i, "code"]))
                cand_xy.append(unit_xy[i])
            elif rng.random() < settings.rehab_centre_share:
                cand_rows.append(
                    ("community_rehab_centre", f"{name}社区康复站", townships.at[i, "code"])
                )
                jitter = _gaussian_in(polys[code], unit_xy[i][None, :], np.array([300.0]), rng)
                cand_xy.append(jitter[0])
        if settings.parks_per_county:
            n = settings.parks_per_county
            pts = _gaussian_in(
                polys[code], np.repeat(seats[code][None, :], n, 0), np.full(n, 3_000.0), rng
            )
            # the park belongs to the nearest township-level unit of the county
            for k, pt in enumerate(pts, start=1):
                near = idx[int(np.argmin(((unit_xy[idx] - pt) ** 2).sum(1)))]
                cand_rows.append(
                    ("park", f"{county['short_name']}公园{k}", townships.at[near, "code"])
                )
                cand_xy.append(pt)
    cands = pd.DataFrame(cand_rows, columns=["kind", "name", "township_code"])
    cands["county_code"] = cands["township_code"].str[:6]
    cands["city_code"] = cands["county_code"].map(county_info["city_code"])
    cands.insert(0, "candidate_id", [f"C{i:05d}" for i in range(1, len(cands) + 1)])
    candidates = _points_gdf(cands, lonlat(np.asarray(cand_xy).reshape(-1, 2)))

    # --- facilities ---
    fac_rows, fac_xy = [], []
    for code in sorted(polys):
        county = county_info.loc[code]
        fac_rows.append(("county_rehab_centre", f"{county['name']}残疾人康复中心", code))
        fac_xy.append(seats[code])
    for _city_code, group in counties.groupby("city_code", sort=True):
        districts = group[group["name"].str.endswith("区")]
        code = (districts if len(districts) else group)["code"].min()
        city = group["city"].iloc[0]
        fac_rows.append(("city_rehab_centre", f"{city}残疾人康复中心", code))
        fac_xy.append(seats[code] + np.array([250.0, 0.0]))
    facs = pd.DataFrame(fac_rows, columns=["kind", "name", "county_code"])
    facs["city_code"] = facs["county_code"].map(county_info["city_code"])
    facs.insert(0, "facility_id", [f"F{i:04d}" for i in range(1, len(facs) + 1)])
    facilities = _points_gdf(facs, lonlat(np.asarray(fac_xy)))
    public_xy = np.vstack([unit_xy, np.asarray(cand_xy).reshape(-1, 2), np.asarray(fac_xy)])
    xy = _clear_of(xy, public_xy, HOUSEHOLD_CLEARANCE_M, np.random.default_rng(seed))
    xy = _off_lattice(xy, LATTICE_M, LATTICE_CLEARANCE_M)
    households = _points_gdf(hh, lonlat(xy))

    # --- county indicators ---
    county_pop = townships.groupby("county_code")["population_est"].sum()
    ind_rows = []
    for code in sorted(polys):
        county = county_info.loc[code]
        rng = _rng(seed, code, _INDICATORS)
        mountain = code in mountain_codes
        prio = code in priority_codes
        pop = float(county_pop.get(code, 0))
        certified = pop * CERTIFIED_DISABLED_SHARE
        working = certified * WORKING_AGE_SHARE * rng.lognormal(0, 0.10)
        unemployed = working * (0.10 + 0.06 * mountain + 0.04 * prio) * rng.lognormal(0, 0.15)
        low_share = 0.10 if county["name"].endswith("区") else 0.22
        low_income = certified * low_share * rng.lognormal(0, 0.15)
        jobs = unemployed * 0.08 * rng.lognormal(0, 0.30)
        ind_rows.append(
            {
                "county_code": code,
                "county": county["name"],
                "city_code": county["city_code"],
                "city": county["city"],
                "terrain": "mountain" if mountain else "plain",
                "priority": prio,
                "population_est": round(pop),
                "working_age_disabled": round(working),
                "registered_unemployed_disabled": round(unemployed),
                "low_income_disabled_households": round(low_income),
                "jobs_placed_last_year": round(jobs),
                "synthetic": True,
            }
        )
    indicators = pd.DataFrame(ind_rows)
    indicators.attrs["synthetic"] = True
    indicators.attrs["label"] = SYNTHETIC_LABEL

    counties_out = counties.copy()
    counties_out["priority"] = counties_out["code"].isin(priority_codes)
    logger.info(
        "synthetic world (seed %d): %d households, %d townships, %d candidates",
        seed,
        len(households),
        len(township_layer),
        len(candidates),
    )
    return World(
        households=households,
        townships=township_layer,
        candidates=candidates,
        facilities=facilities,
        county_indicators=indicators,
        counties=counties_out,
        seed=seed,
        synthetic=True,
    )


# --- writing -------------------------------------------------------------------------------------

#: GeoPackage timestamps are fixed so that the same world gives the same bytes.
FIXED_GPKG_DATE = "2000-01-01T00:00:00.000Z"


@contextmanager
def _fixed_gpkg_date() -> Iterator[None]:
    old = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = FIXED_GPKG_DATE
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OGR_CURRENT_DATE", None)
        else:
            os.environ["OGR_CURRENT_DATE"] = old


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> Path:
    """Write ``layers`` into one GeoPackage at ``path`` (replaced), with a fixed timestamp."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with _fixed_gpkg_date():
        for name, layer in layers.items():
            layer.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path


def shareable_layers(world: World) -> dict[str, gpd.GeoDataFrame]:
    """The layers of a world that hold no household rows (safe to share)."""
    indicators = world.counties[["code", "geometry"]].merge(
        world.county_indicators, left_on="code", right_on="county_code"
    )
    indicators = gpd.GeoDataFrame(indicators.drop(columns="code"), crs=world.counties.crs)
    return {
        "townships": world.townships,
        "candidates": world.candidates,
        "facilities": world.facilities,
        "county_indicators": indicators,
    }


def write_world_csv(world: World, folder: Path) -> dict[str, Path]:
    """Canonical CSV export of every layer (lon/lat columns, fixed float format) for comparisons."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in ("households", "townships", "candidates", "facilities"):
        gdf: gpd.GeoDataFrame = getattr(world, name)
        frame = pd.DataFrame(gdf.drop(columns="geometry"))
        frame["lon"] = gdf.geometry.x
        frame["lat"] = gdf.geometry.y
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False, float_format="%.6f", lineterminator="\n")
        out[name] = path
    path = folder / "county_indicators.csv"
    world.county_indicators.to_csv(path, index=False, float_format="%.6f", lineterminator="\n")
    out["county_indicators"] = path
    return out
