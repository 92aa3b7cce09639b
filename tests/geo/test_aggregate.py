"""Demand aggregation: weights preserved, link back complete, no shown cell under 5."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnplan.errors import CRSError, InputError
from lnplan.geo.aggregate import (
    aggregate_households,
    protect_small_cells,
    shareable_cells,
)
from lnplan.geo.synth import make_world
from lnplan.scenario import WorldSection
from lnplan.world import World


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(WorldSection(households_scale=0.01), 5)


def households(n: int, seed: int, spread: float = 0.3) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon = 123.4 + rng.normal(0, spread, n)
    lat = 41.8 + rng.normal(0, spread, n)
    return gpd.GeoDataFrame(
        {
            "township_code": rng.choice(["210102001", "210102002", "210103001"], n),
            "county_code": "210102",
            "persons": rng.integers(1, 3, n),
            "covered": rng.random(n) < 0.5,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("by", ["township", "grid", "h3"])
def test_weights_preserved_and_link_back(world: World, by: str) -> None:
    hh = world.households
    d = aggregate_households(hh, by=by, weight_column="persons", cell_km=3.0, h3_resolution=7)
    assert d.points["households"].sum() == len(hh)
    assert d.points["weight"].sum() == pytest.approx(hh["persons"].sum())
    assert len(d.household_index) == len(hh)
    assert (d.household_index >= 0).all()
    counts = np.bincount(d.household_index, minlength=len(d.points))
    np.testing.assert_array_equal(counts, d.points["households"].to_numpy())
    assert (d.points["demand_id"].to_numpy() == np.arange(len(d.points))).all()
    assert len(d.cells) == len(d.points)


def test_centroid_is_mean_of_households() -> None:
    hh = households(50, 1)
    d = aggregate_households(hh, by="township")
    for pid, row in d.points.iterrows():
        members = hh[d.household_index == pid]
        assert row.geometry.x == pytest.approx(members.geometry.x.mean())
        assert row["key"] == members["township_code"].iloc[0]


@pytest.mark.parametrize("by", ["township", "grid", "h3"])
def test_merge_leaves_no_small_cell_and_keeps_everyone(world: World, by: str) -> None:
    d = aggregate_households(world.households, by=by, weight_column="persons", cell_km=2.0)
    assert (d.points["households"] < 5).any()  # the test needs small cells to merge
    safe = protect_small_cells(d)
    assert safe.points["households"].min() >= 5
    assert safe.points["households"].sum() == len(world.households)
    assert safe.points["weight"].sum() == pytest.approx(d.points["weight"].sum())
    counts = np.bincount(safe.household_index, minlength=len(safe.points))
    np.testing.assert_array_equal(counts, safe.points["households"].to_numpy())


def test_suppress_drops_small_cells(world: World) -> None:
    d = aggregate_households(world.households, by="grid", cell_km=2.0)
    safe = protect_small_cells(d, how="suppress")
    assert safe.points["households"].min() >= 5
    dropped = int(d.points.loc[d.points["households"] < 5, "households"].sum())
    assert (safe.household_index == -1).sum() == dropped


def test_fewer_than_five_in_all_shows_nothing() -> None:
    safe = protect_small_cells(aggregate_households(households(4, 2), by="grid"))
    assert len(safe.points) == 0 and (safe.household_index == -1).all()


def test_minimum_cannot_be_lowered(world: World) -> None:
    d = aggregate_households(households(20, 3), by="grid")
    with pytest.raises(InputError, match="min_households must be at least 5"):
        protect_small_cells(d, min_households=4)


@settings(max_examples=25, deadline=None)
@given(st.integers(5, 300), st.integers(0, 10_000), st.sampled_from([5, 8, 20]))
def test_shareable_cells_invariants(n: int, seed: int, minimum: int) -> None:
    hh = households(n, seed, spread=0.05)
    cells = shareable_cells(
        hh, by="grid", cell_km=1.0, min_households=minimum, value_columns=["covered"]
    )
    if n >= minimum:
        assert cells["households"].sum() == n
        assert cells["covered"].sum() == hh["covered"].sum()
        assert cells["households"].min() >= minimum
    else:
        assert len(cells) == 0
    assert "household_id" not in cells.columns
    assert cells.attrs["min_households"] == minimum


def test_shareable_township_cells_use_official_points(world: World) -> None:
    cells = shareable_cells(world.households, by="township", townships=world.townships)
    official = set(zip(world.townships.geometry.x, world.townships.geometry.y, strict=True))
    shown = set(zip(cells.geometry.x, cells.geometry.y, strict=True))
    assert shown <= official
    assert cells["households"].min() >= 5


def test_input_errors() -> None:
    hh = households(10, 4)
    with pytest.raises(CRSError, match="no CRS"):
        aggregate_households(hh.set_crs(None, allow_override=True), by="grid")
    with pytest.raises(InputError, match="unknown aggregation 'county'"):
        aggregate_households(hh, by="county")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no column 'weight'"):
        aggregate_households(hh, by="grid", weight_column="weight")
    with pytest.raises(InputError, match="needs a township_code column"):
        aggregate_households(hh.drop(columns="township_code"), by="township")
    with pytest.raises(InputError, match="h3_resolution must be 0-15"):
        aggregate_households(hh, by="h3", h3_resolution=16)


def test_suppress_small_counts_blanks_one_to_four() -> None:
    import pandas as pd

    from lnplan.geo.aggregate import suppress_small_counts

    frame = pd.DataFrame({"children": [0, 1, 4, 5, 12]})
    out = suppress_small_counts(frame, ["children"])
    assert out["children"].isna().tolist() == [False, True, True, False, False]
    assert frame["children"].tolist() == [0, 1, 4, 5, 12]  # the input is not modified
    with pytest.raises(InputError, match="minimum must be at least 5"):
        suppress_small_counts(frame, ["children"], minimum=3)
