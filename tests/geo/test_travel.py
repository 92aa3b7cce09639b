"""Travel: great-circle distances, the road model's properties, sparse = dense, user matrices."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnplan.errors import CRSError, InputError
from lnplan.geo.travel import (
    RoadModel,
    coverage_for_layers,
    coverage_sets,
    distance_matrix_km,
    haversine_km,
    limit_matrix,
    read_travel_matrix,
    travel_time_matrix_min,
    within_minutes,
    within_radius,
)
from lnplan.scenario import MatrixSource, TravelSection


def points(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(120.0, 124.0, n), rng.uniform(39.5, 42.5, n)])


def test_haversine_known_distances() -> None:
    # one degree of latitude on the mean sphere: 2 * pi * R / 360
    assert haversine_km(123.0, 41.0, 123.0, 42.0) == pytest.approx(111.1951, abs=1e-3)
    # Shenyang - Dalian about 350-400 km
    assert 340 < float(haversine_km(123.43, 41.80, 121.61, 38.91)) < 400
    assert float(haversine_km(123.0, 41.0, 123.0, 41.0)) == 0.0


lon = st.floats(118.0, 126.0)
lat = st.floats(38.0, 44.0)


@settings(max_examples=60, deadline=None)
@given(lon, lat, lon, lat, lon, lat)
def test_distance_symmetric_and_triangle(
    x1: float, y1: float, x2: float, y2: float, x3: float, y3: float
) -> None:
    ab = float(haversine_km(x1, y1, x2, y2))
    ba = float(haversine_km(x2, y2, x1, y1))
    assert ab == pytest.approx(ba, abs=1e-9)
    ac, cb = float(haversine_km(x1, y1, x3, y3)), float(haversine_km(x3, y3, x2, y2))
    assert ab <= ac + cb + 1e-9


def test_travel_time_symmetric_and_triangle_sane() -> None:
    pts = points(40, 1)
    mountain = np.arange(40) % 3 == 0
    model = RoadModel()
    t = travel_time_matrix_min(pts, pts, model=model, a_mountain=mountain, b_mountain=mountain)
    np.testing.assert_allclose(t, t.T)
    assert np.all(np.diag(t) == 0)
    # one terrain: the model is a scaled metric, so the triangle inequality holds
    flat = travel_time_matrix_min(pts, pts, model=model)
    via = (flat[:, :, None] + flat[None, :, :]).min(axis=1)
    assert np.all(flat <= via + 1e-9)


def test_road_model_defaults_and_terrain() -> None:
    model = RoadModel()
    assert model.plain_min_per_km == pytest.approx(1.3 / 60 * 60)
    assert model.mountain_min_per_km == pytest.approx(1.5 / 40 * 60)
    t = model.travel_time_min(
        np.array([10.0, 10.0, 10.0]), [False, True, False], [False, True, True]
    )
    np.testing.assert_allclose(t, [13.0, 22.5, (13.0 + 22.5) / 2])


def test_road_model_from_scenario_section() -> None:
    model = RoadModel.from_scenario(TravelSection())
    assert model == RoadModel()


def test_road_model_rejects_impossible_values() -> None:
    with pytest.raises(InputError, match="plain_detour_factor must be >= 1"):
        RoadModel(plain_detour_factor=0.9)
    with pytest.raises(InputError, match="mountain_speed_kph must be > 0"):
        RoadModel(mountain_speed_kph=0)


@pytest.mark.parametrize("chunk_rows", [7, 50_000])
def test_sparse_radius_equals_dense(chunk_rows: int) -> None:
    demand, cand = points(500, 2), points(60, 3)
    sparse_km = within_radius(demand, cand, radius_km=25.0, chunk_rows=chunk_rows)
    dense = distance_matrix_km(demand, cand)
    mask = dense <= 25.0
    got = np.zeros_like(mask)
    got[sparse_km.nonzero()] = True
    assert sparse_km.nnz == mask.sum() > 0
    np.testing.assert_array_equal(got, mask)
    np.testing.assert_allclose(sparse_km.toarray()[mask], dense[mask], atol=1e-9)
    assert sparse_km.has_sorted_indices


def test_sparse_minutes_equals_dense() -> None:
    demand, cand = points(400, 4), points(50, 5)
    rng = np.random.default_rng(0)
    md, mc = rng.random(400) < 0.3, rng.random(50) < 0.3
    model = RoadModel()
    got = within_minutes(
        demand, cand, limit_min=30, model=model, demand_mountain=md, candidate_mountain=mc
    )
    dense = travel_time_matrix_min(demand, cand, model=model, a_mountain=md, b_mountain=mc)
    mask = dense <= 30
    assert got.nnz == mask.sum() > 0
    structure = coverage_sets(got).toarray().astype(bool)
    np.testing.assert_array_equal(structure, mask)
    np.testing.assert_allclose(got.toarray()[mask], dense[mask], atol=1e-9)


def test_explicit_zero_distance_is_kept() -> None:
    pts = points(5, 6)
    m = within_radius(pts, pts[:2], radius_km=0.0)
    assert m.nnz == 2 and np.all(m.data == 0.0)
    assert coverage_sets(m).toarray().sum() == 2


def test_limit_matrix() -> None:
    demand, cand = points(100, 7), points(20, 8)
    wide = within_radius(demand, cand, radius_km=40)
    narrow = within_radius(demand, cand, radius_km=20)
    cut = limit_matrix(wide, limit=20)
    assert (cut != narrow).nnz == 0 and cut.nnz == narrow.nnz


def test_empty_inputs() -> None:
    m = within_radius(np.zeros((0, 2)), points(3, 1), radius_km=10)
    assert m.shape == (0, 3) and m.nnz == 0


def test_bad_points_are_refused() -> None:
    with pytest.raises(InputError, match=r"demand: expected an array of shape \(n, 2\)"):
        within_radius(np.zeros((3, 3)), points(2, 1), radius_km=1)
    with pytest.raises(InputError, match=r"candidates: point 1 .* is not a longitude/latitude"):
        within_radius(points(2, 1), np.array([[123.0, 41.0], [500.0, 41.0]]), radius_km=1)
    with pytest.raises(InputError, match="radius_km must be a finite number >= 0"):
        within_radius(points(2, 1), points(2, 2), radius_km=-1)


def test_dense_matrix_refuses_huge_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lnplan.geo.travel.MAX_DENSE_CELLS", 10)
    with pytest.raises(InputError, match=r"too large .* use within_radius"):
        distance_matrix_km(points(5, 1), points(5, 2))


# --- user matrices ------------------------------------------------------------------------------


def matrix_csv(tmp_path: Path, rows: list[tuple[str, str, object]]) -> Path:
    path = tmp_path / "m.csv"
    pd.DataFrame(rows, columns=["origin_id", "destination_id", "travel_time_min"]).to_csv(
        path, index=False
    )
    return path


def test_read_matrix_csv_and_parquet(tmp_path: Path) -> None:
    rows = [("a", "x", 5.0), ("b", "y", 0.0), ("a", "y", 12.5)]
    m = read_travel_matrix(
        matrix_csv(tmp_path, rows), origin_ids=["a", "b"], destination_ids=["x", "y"]
    )
    np.testing.assert_array_equal(m.toarray(), [[5.0, 12.5], [0.0, 0.0]])
    assert m.nnz == 3  # the explicit 0 of b -> y is reachable
    pq = tmp_path / "m.parquet"
    pd.DataFrame(rows, columns=["origin_id", "destination_id", "travel_time_min"]).to_parquet(pq)
    m2 = read_travel_matrix(pq, origin_ids=["a", "b"], destination_ids=["x", "y"])
    assert (m2 != m).nnz == 0


def test_read_matrix_unknown_id(tmp_path: Path) -> None:
    path = matrix_csv(tmp_path, [("a", "x", 1.0), ("zz", "x", 2.0)])
    with pytest.raises(InputError, match=r"row 3, column 'origin_id': unknown origin id 'zz'"):
        read_travel_matrix(path, origin_ids=["a"], destination_ids=["x"])


def test_read_matrix_negative_value(tmp_path: Path) -> None:
    path = matrix_csv(tmp_path, [("a", "x", -1.0)])
    with pytest.raises(
        InputError, match=r"row 2, column 'travel_time_min': -1.0 is not a number >= 0"
    ):
        read_travel_matrix(path, origin_ids=["a"], destination_ids=["x"])


def test_read_matrix_duplicate_pair(tmp_path: Path) -> None:
    path = matrix_csv(tmp_path, [("a", "x", 1.0), ("a", "x", 2.0)])
    with pytest.raises(InputError, match=r"row 3: duplicate pair 'a' -> 'x'"):
        read_travel_matrix(path, origin_ids=["a"], destination_ids=["x"])


def test_read_matrix_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("from,to,minutes\na,x,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing column\(s\) origin_id, destination_id"):
        read_travel_matrix(path, origin_ids=["a"], destination_ids=["x"])


def test_read_matrix_bad_format(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"must be \.csv or \.parquet"):
        read_travel_matrix(path, origin_ids=["a"], destination_ids=["x"])


# --- geo adapter ---------------------------------------------------------------------------------


def layer(pts: np.ndarray, **columns: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        dict(columns), geometry=gpd.points_from_xy(pts[:, 0], pts[:, 1]), crs="EPSG:4326"
    )


def test_coverage_for_layers_uses_county_terrain() -> None:
    d, c = points(200, 9), points(30, 10)
    dm = np.arange(200) % 2 == 0
    demand = layer(d, county_code=np.where(dm, "210422", "210102"))
    cands = layer(c, county_code=["210102"] * 30)
    model = RoadModel()
    got = coverage_for_layers(
        demand, cands, model=model, mountain_counties={"210422"}, travel_time_min=40
    )
    expected = within_minutes(
        d, c, limit_min=40, model=model, demand_mountain=dm, candidate_mountain=np.zeros(30, bool)
    )
    assert (got != expected).nnz == 0 and got.nnz > 0
    by_km = coverage_for_layers(demand.to_crs("EPSG:32651"), cands, model=model, radius_km=15)
    direct = within_radius(d, c, radius_km=15)  # the projection round trip moves points by ~nm
    np.testing.assert_array_equal(by_km.indices, direct.indices)
    np.testing.assert_allclose(by_km.data, direct.data, atol=1e-6)


def test_coverage_for_layers_with_user_matrix(tmp_path: Path) -> None:
    demand = layer(points(2, 1), key=["t1", "t2"])
    cands = layer(points(2, 2), candidate_id=["C1", "C2"])
    path = matrix_csv(tmp_path, [("t1", "C1", 10.0), ("t1", "C2", 50.0), ("t2", "C2", 0.0)])
    got = coverage_for_layers(
        demand, cands, model=RoadModel(), travel_time_min=30, matrix=MatrixSource(path=path)
    )
    np.testing.assert_array_equal(got.toarray(), [[10.0, 0.0], [0.0, 0.0]])
    assert got.nnz == 2


def test_coverage_for_layers_errors() -> None:
    demand = layer(points(2, 1))
    with pytest.raises(InputError, match="exactly one of travel_time_min and radius_km"):
        coverage_for_layers(demand, demand, model=RoadModel())
    with pytest.raises(CRSError, match="demand: the layer has no CRS"):
        coverage_for_layers(
            demand.set_crs(None, allow_override=True), demand, model=RoadModel(), radius_km=1
        )
