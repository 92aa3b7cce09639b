"""The synthetic demo world: determinism, labels, shapes, and the assumptions it promises."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from lnplan.errors import InputError
from lnplan.geo import boundaries
from lnplan.geo.synth import make_world, write_gpkg, write_world_csv
from lnplan.scenario import DataSection, WorldSection
from lnplan.targets import load_city_population, load_priority_counties
from lnplan.world import World

SMALL = WorldSection(households_scale=0.02)


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(SMALL, 11)


def test_layers_are_labelled_synthetic(world: World) -> None:
    for name in ("households", "townships", "candidates", "facilities"):
        layer = getattr(world, name)
        assert layer.crs is not None and layer.crs.to_epsg() == 4326
        assert layer.attrs["synthetic"] is True
        assert layer["synthetic"].all()
    assert world.county_indicators["synthetic"].all()
    assert world.synthetic


def test_counts_follow_census_population(world: World) -> None:
    pop = load_city_population().set_index("city_code")["population_2020"]
    summary = world.summary().set_index("city_code").drop(index="210000")
    expected = (pop * 70 / 1e4 * 0.02).round()
    np.testing.assert_array_equal(summary["households"].to_numpy(), expected[summary.index])
    assert summary["townships"].sum() == 1354
    assert world.summary().iloc[-1]["households"] == len(world.households)


def test_households_inside_their_county(world: World) -> None:
    counties = boundaries.counties().set_index("code")
    hh = world.households
    for code, group in hh.groupby("county_code"):
        poly = counties.loc[code, "geometry"]
        # coordinates are rounded to 1e-6 degree: allow that much at the border
        inside = shapely.contains_xy(poly.buffer(2e-6), group.geometry.x, group.geometry.y)
        assert inside.all(), code
    assert hh["household_id"].is_unique


def test_urban_denser_than_mountain(world: World) -> None:
    counties = boundaries.counties().to_crs(boundaries.METRIC_CRS).set_index("code")
    per_county = world.households.groupby("county_code").size()
    area_km2 = counties.geometry.area / 1e6
    density = (per_county / area_km2).dropna()
    terrain = world.county_indicators.set_index("county_code")["terrain"]
    districts = [c for c in density.index if counties.loc[c, "name"].endswith("区")]
    mountain = [c for c in density.index if terrain[c] == "mountain" and c not in districts]
    assert density[districts].median() > 10 * density[mountain].median()


def test_township_fields_and_children(world: World) -> None:
    t = world.townships
    assert set(t["kind"]) == {"subdistrict", "town", "township"}
    assert t["code"].is_unique and (t["code"].str.len() == 9).all()
    assert (t["children_8_14"] >= 0).all()
    rural = t[t["kind"] != "subdistrict"]["children_8_14"].sum()
    assert rural > t[t["kind"] == "subdistrict"]["children_8_14"].sum()
    assert t["households"].sum() == len(world.households)


def test_candidates_and_facilities(world: World) -> None:
    c = world.candidates
    assert set(c["kind"]) == {"township_centre", "community_rehab_centre", "park"}
    assert (c["kind"] == "township_centre").sum() == 841  # every town and township
    assert (c["kind"] == "park").sum() == 2 * 100
    assert c["candidate_id"].is_unique
    f = world.facilities
    assert (f["kind"] == "county_rehab_centre").sum() == 100
    assert (f["kind"] == "city_rehab_centre").sum() == 14


def test_county_indicators(world: World) -> None:
    ind = world.county_indicators
    assert len(ind) == 100 and ind["county_code"].is_unique
    cols = [
        "working_age_disabled",
        "registered_unemployed_disabled",
        "low_income_disabled_households",
        "jobs_placed_last_year",
    ]
    assert (ind[cols] >= 0).all().all()
    assert (ind["registered_unemployed_disabled"] <= ind["working_age_disabled"]).all()
    priority = set(load_priority_counties()["county_code"])
    assert set(ind.loc[ind["priority"], "county_code"]) == priority


def test_same_seed_same_bytes_other_seed_differs(world: World, tmp_path: Path) -> None:
    again = make_world(SMALL, 11)
    other = make_world(SMALL, 12)
    a, b, c = (
        write_world_csv(w, tmp_path / n) for w, n in ((world, "a"), (again, "b"), (other, "c"))
    )
    for name in a:
        assert filecmp.cmp(a[name], b[name], shallow=False), name
    assert not filecmp.cmp(a["households"], c["households"], shallow=False)
    g1 = write_gpkg({"households": world.households}, tmp_path / "g1.gpkg")
    g2 = write_gpkg({"households": again.households}, tmp_path / "g2.gpkg")
    assert g1.read_bytes() == g2.read_bytes()


def test_scale_changes_only_household_count() -> None:
    tiny = make_world(WorldSection(households_scale=0.005), 11)
    assert len(tiny.households) < 0.3 * len(make_world(SMALL, 11).households)
    assert len(tiny.townships) == 1354


def test_bad_data_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "terrain.csv"
    bad.write_text("county_code,terrain\n219999,mountain\n", encoding="utf-8")
    data = DataSection(county_terrain=bad)
    with pytest.raises(InputError, match=r"data\.county_terrain: county code\(s\) 219999"):
        make_world(SMALL, 1, data=data)


def test_bad_terrain_value_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "terrain.csv"
    bad.write_text("county_code,terrain\n210102,hilly\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2, column 'terrain': 'hilly'"):
        make_world(SMALL, 1, data=DataSection(county_terrain=bad))


def test_summary_totals(world: World) -> None:
    s = world.summary()
    body = s.iloc[:-1]
    total = s.iloc[-1]
    for col in ("households", "persons", "townships", "candidates", "facilities", "counties"):
        assert total[col] == body[col].sum()
    assert isinstance(s, pd.DataFrame) and len(s) == 15
