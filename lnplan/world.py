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

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from lnplan.scenario import Scenario

#: Text placed on every output made from the synthetic world.
SYNTHETIC_LABEL = "SYNTHETIC DEMO DATA — not real households, children or indicators"


@dataclass(frozen=True)
class World:
    """The layers of one planning run (see the module docstring for columns)."""

    households: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    county_indicators: pd.DataFrame
    counties: gpd.GeoDataFrame
    seed: int
    synthetic: bool

    def mountain_counties(self) -> set[str]:
        """Codes of the counties in mountain terrain (for :class:`lnplan.geo.travel.RoadModel`)."""
        ind = self.county_indicators
        return set(ind.loc[ind["terrain"] == "mountain", "county_code"].astype(str))

    def summary(self) -> pd.DataFrame:
        """Counts per city (and a total row): households, persons, townships, children,
        candidates, facilities, counties, priority counties."""
        keys = self.county_indicators[["city_code", "city"]].drop_duplicates()
        keys = keys.sort_values("city_code").reset_index(drop=True)
        out = keys.copy()

        def count(frame: pd.DataFrame, name: str, col: str | None = None) -> None:
            grouped = (
                frame.groupby("city_code")[col].sum() if col else frame.groupby("city_code").size()
            )
            out[name] = out["city_code"].map(grouped).fillna(0).astype("int64")

        count(self.households, "households")
        count(self.households, "persons", "persons")
        count(self.townships, "townships")
        count(self.townships, "children_8_14", "children_8_14")
        count(self.candidates, "candidates")
        count(self.facilities, "facilities")
        count(self.county_indicators, "counties")
        count(self.county_indicators, "priority_counties", "priority")
        total = out.drop(columns=["city_code", "city"]).sum()
        total_row = pd.DataFrame([{"city_code": "210000", "city": "辽宁省 (total)", **total}])
        return pd.concat([out, total_row], ignore_index=True)


def build_world(scenario: Scenario) -> World:
    """The world a scenario plans on: the synthetic demo world of ``scenario.world`` and ``seed``.

    User layers in ``scenario.data`` (households, facilities, candidates) are not merged in yet:
    a scenario that names them is refused rather than silently ignored.
    """
    from lnplan.errors import ScenarioError
    from lnplan.geo.synth import make_world

    named = [k for k in ("households", "facilities", "candidates") if getattr(scenario.data, k)]
    if named:
        raise ScenarioError(
            f"data.{named[0]}: user layers are not supported by `lnplan run` yet; remove "
            f"data.{', data.'.join(named)} to plan on the synthetic demo world"
        )
    return make_world(scenario.world, scenario.seed, data=scenario.data)
