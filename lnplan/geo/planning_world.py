"""The :class:`World` dataclass: the layers every programme reads, in one frozen object.

Its columns are described in :mod:`lnplan.world`, which also builds worlds from scenarios. This
module imports nothing from lnplan, so that :mod:`lnplan.geo.synth` (which makes worlds) and
:mod:`lnplan.world` (which calls it) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

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

    @property
    def label(self) -> str:
        """The text every output made from this world carries: which layers are made up."""
        layers = {
            "households": self.households,
            "townships": self.townships,
            "candidates": self.candidates,
            "facilities": self.facilities,
            "county indicators": self.county_indicators,
        }
        made_up = [name for name, layer in layers.items() if layer.attrs.get("synthetic", False)]
        if not made_up:
            return ""
        if len(made_up) == len(layers):
            return SYNTHETIC_LABEL
        return f"PARTLY SYNTHETIC DEMO DATA — made up: {', '.join(made_up)}"

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
