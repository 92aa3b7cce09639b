"""The planning world: the layers every programme reads, in one frozen object.

A :class:`World` is made by :func:`lnplan.geo.synth.make_world` (the synthetic demo world) or by
:func:`build_world` from a scenario (the demo world; later, user layers named in ``data``).

Layers and their columns (every GeoDataFrame in EPSG:4326; every layer has a boolean column
``synthetic`` and ``attrs["synthetic"]``, True for made-up data):

``households`` (personal data: never shown or exported for sharing; aggregate first with
:mod:`lnplan.geo.aggregate`)
    ``household_id`` (str), ``township_code`` (9 digits), ``county_code``, ``city_code`` (6 digits),
    ``persons`` (severely disabled persons in the household, int), ``low_income`` (bool), point.
``townships``
    ``code``, ``name``, ``kind`` (subdistrict 街道 / town 镇 / township 乡), ``county_code``,
    ``county``, ``city_code``, ``city``, ``terrain`` (plain / mountain), ``population_est``,
    ``households`` (int), ``children_8_14`` (children awaiting screening, int), point.
``candidates`` (candidate fitness demonstration sites)
    ``candidate_id``, ``kind`` (township_centre / community_rehab_centre / park), ``name``,
    ``township_code``, ``county_code``, ``city_code``, point.
``facilities`` (existing rehabilitation facilities)
    ``facility_id``, ``kind`` (county_rehab_centre / city_rehab_centre), ``name``,
    ``county_code``, ``city_code``, point.
``county_indicators`` (DataFrame, one row per county, for the employment fund)
    ``county_code``, ``county``, ``city_code``, ``city``, ``terrain``, ``priority`` (bool: a
    provincial key rural-revitalization county of ``data.priority_counties``), ``population_est``,
    ``working_age_disabled``, ``registered_unemployed_disabled``,
    ``low_income_disabled_households``, ``jobs_placed_last_year`` (ints).
``counties`` (the county polygons from :mod:`lnplan.geo.boundaries`, with ``terrain``)
"""

from __future__ import annotations

import geopandas as gpd

from lnplan.geo.planning_world import SYNTHETIC_LABEL, World
from lnplan.geo.synth import make_world
from lnplan.scenario import DataSection, Scenario

__all__ = ["SYNTHETIC_LABEL", "World", "build_world", "with_user_layers"]


def build_world(scenario: Scenario) -> World:
    """The world a scenario plans on.

    Starts from the synthetic demo world of ``scenario.world`` and ``seed``; each user layer named
    in ``scenario.data`` (households, facilities, candidates) replaces its synthetic counterpart
    (see :func:`with_user_layers`).
    """
    world = make_world(scenario.world, scenario.seed, data=scenario.data)
    return with_user_layers(world, scenario.data)


def with_user_layers(world: World, data: DataSection) -> World:
    """Replace the world's households, facilities or candidates by the user layers in ``data``.

    Each layer is read and validated with :func:`lnplan.geo.layers.read_layer` (every problem
    reported at once). Its points get the world's columns: ``county_code`` and ``city_code`` from
    the file's county column or, without one, from the county polygon the point lies in;
    ``township_code`` of the nearest township of the same county (townships have synthetic
    positions, so this link is approximate); households get ``persons`` from the file's count
    (default 1) and ``low_income`` False (unknown); sites keep a ``capacity`` column if the file
    has one. User layers are marked ``synthetic = False``.
    """
    from dataclasses import replace

    from lnplan.geo.layers import read_layer

    changes: dict[str, gpd.GeoDataFrame] = {}
    for kind in ("households", "facilities", "candidates"):
        source = getattr(data, kind)
        if source is None:
            continue
        layer = read_layer(
            source.path,
            kind,
            coords=source.coords,
            columns=source.columns or None,
            encoding=source.encoding,
            layer=source.layer,
        )
        changes[kind] = _to_world_schema(layer, kind, world)
    return replace(world, **changes) if changes else world


def _to_world_schema(layer: gpd.GeoDataFrame, kind: str, world: World) -> gpd.GeoDataFrame:
    import numpy as np
    from scipy.spatial import cKDTree

    from lnplan.errors import InputError
    from lnplan.geo.boundaries import METRIC_CRS

    counties = world.counties
    if "county" in layer.columns:
        codes = counties.set_index(["name", "city"])["code"]
        county_code = [codes[(c, t)] for c, t in zip(layer["county"], layer["city"], strict=True)]
    else:
        joined = gpd.sjoin(
            layer[["geometry"]], counties[["code", "geometry"]], how="left", predicate="within"
        )
        joined = joined[~joined.index.duplicated(keep="first")]
        if joined["code"].isna().any():
            # On the simplified outline but outside every county: take the nearest county.
            near = gpd.sjoin_nearest(
                layer[["geometry"]].to_crs(METRIC_CRS),
                counties[["code", "geometry"]].to_crs(METRIC_CRS),
                how="left",
            )
            near = near[~near.index.duplicated(keep="first")]
            joined["code"] = joined["code"].fillna(near["code"])
        county_code = joined["code"].tolist()
    city_of = counties.set_index("code")["city_code"]
    out = gpd.GeoDataFrame(
        {
            "county_code": county_code,
            "city_code": [city_of[c] for c in county_code],
        },
        geometry=layer.geometry.to_numpy(),
        crs=layer.crs,
    )
    towns = world.townships
    towns_m = towns.to_crs(METRIC_CRS)
    town_xy = np.column_stack([towns_m.geometry.x, towns_m.geometry.y])
    pts = out.to_crs(METRIC_CRS)
    pt_xy = np.column_stack([pts.geometry.x, pts.geometry.y])
    township = np.empty(len(out), dtype=object)
    for code, idx in out.groupby("county_code").indices.items():
        in_county = np.flatnonzero(towns["county_code"].to_numpy() == code)
        if len(in_county) == 0:
            raise InputError(f"county {code} has no township in data.townships")
        _, nearest = cKDTree(town_xy[in_county]).query(pt_xy[idx])
        township[idx] = towns["code"].to_numpy()[in_county[np.atleast_1d(nearest)]]
    out.insert(0, "township_code", township)
    ids = layer["id"].astype(str).to_numpy()
    if kind == "households":
        out.insert(0, "household_id", ids)
        out["persons"] = layer["count"].to_numpy() if "count" in layer else 1
        out["low_income"] = False
    else:
        id_col = "facility_id" if kind == "facilities" else "candidate_id"
        out.insert(0, id_col, ids)
        out.insert(1, "kind", "user")
        out.insert(2, "name", layer["name"].to_numpy() if "name" in layer else ids)
        if "capacity" in layer:
            out["capacity"] = layer["capacity"].to_numpy()
        if kind == "facilities":
            out = out.drop(columns=["township_code"])
    out["synthetic"] = False
    out.attrs["synthetic"] = False
    out.attrs["source"] = layer.attrs.get("source")
    return out
