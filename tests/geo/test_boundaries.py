"""Liaoning boundaries: counts, validity, tiling, areas, look-ups and their error messages, CLI."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from lnplan.cli import app
from lnplan.errors import InputError, UnknownPlaceError
from lnplan.geo import boundaries

# Official area of Liaoning: about 148,000 km² (government statistics, rounded).
PROVINCE_AREA_KM2 = 148_000.0


@pytest.fixture(scope="module")
def counties() -> gpd.GeoDataFrame:
    return boundaries.counties()


@pytest.fixture(scope="module")
def cities() -> gpd.GeoDataFrame:
    return boundaries.cities()


@pytest.fixture(scope="module")
def counties_ea(counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return counties.to_crs(boundaries.EQUAL_AREA_CRS)


@pytest.fixture(scope="module")
def cities_ea(cities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return cities.to_crs(boundaries.EQUAL_AREA_CRS)


# --- tables ---------------------------------------------------------------------------------


def test_counts(counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame) -> None:
    assert len(cities) == 14
    assert len(counties) == 100
    assert cities["n_counties"].sum() == 100
    assert cities["n_counties"].tolist() == [
        counties["city_code"].eq(code).sum() for code in cities["code"]
    ]


def test_columns_crs_and_order(counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame) -> None:
    assert list(counties.columns) == boundaries.COUNTY_COLUMNS
    assert list(cities.columns) == boundaries.CITY_COLUMNS
    assert counties.crs.equals(boundaries.WGS84)
    assert cities.crs.equals(boundaries.WGS84)
    assert counties["code"].is_monotonic_increasing
    assert cities["code"].is_monotonic_increasing


def test_codes_are_six_digits_and_unique(
    counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame
) -> None:
    for codes in (counties["code"], cities["code"], counties["city_code"]):
        assert all(isinstance(c, str) and re.fullmatch(r"21\d{4}", c) for c in codes)
    assert counties["code"].is_unique
    assert cities["code"].is_unique
    # A county's code starts with its city's first four digits.
    assert (counties["code"].str[:4] == counties["city_code"].str[:4]).all()


def test_every_county_has_one_of_the_14_cities(
    counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame
) -> None:
    assert set(counties["city"]) == set(cities["name"])
    pairs = set(zip(cities["code"], cities["name"], strict=True))
    assert set(zip(counties["city_code"], counties["city"], strict=True)) <= pairs


def test_names(counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame) -> None:
    row = counties.set_index("code").loc["210323"]
    assert (row["name"], row["short_name"], row["city"]) == ("岫岩满族自治县", "岫岩", "鞍山市")
    assert counties["name"].str.endswith(("区", "县", "市")).all()
    assert cities["name"].str.endswith("市").all()
    assert (cities["name"] == cities["short_name"] + "市").all()
    # Names are not unique: 铁西区 in 沈阳市 and 鞍山市.
    assert sorted(counties.loc[counties["name"] == "铁西区", "city"]) == ["沈阳市", "鞍山市"]


def test_copies_do_not_corrupt_the_cache() -> None:
    first = boundaries.counties()
    first.loc[0, "name"] = "changed"
    first.loc[1, "geometry"] = shapely.Point(0, 0)
    again = boundaries.counties()
    assert len(again) == 100
    assert again.loc[0, "name"] == "和平区"
    assert again.loc[1, "geometry"].area > 0
    c = boundaries.cities()
    c["n_counties"] = 0
    assert boundaries.cities()["n_counties"].sum() == 100
    row = boundaries.find_county("岫岩")
    row["name"] = "changed"
    assert boundaries.find_county("岫岩")["name"] == "岫岩满族自治县"
    assert boundaries.counties().loc[28, "name"] == "岫岩满族自治县"


# --- geometry -------------------------------------------------------------------------------


def test_every_geometry_is_valid_and_polygonal(
    counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame
) -> None:
    for gdf in (counties, cities):
        assert gdf.is_valid.all()
        assert not gdf.is_empty.any()
        assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert shapely.is_valid(boundaries.province())


def test_counties_form_a_coverage(counties: gpd.GeoDataFrame) -> None:
    # No overlaps and no mismatched shared edges (what coverage_simplify preserves).
    assert shapely.coverage_is_valid(counties.geometry.to_numpy())


def test_no_two_counties_overlap(counties_ea: gpd.GeoDataFrame) -> None:
    geoms = counties_ea.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    assert pairs.sum() > 200  # neighbours do touch
    overlap_m2 = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert overlap_m2.max() < 1.0  # below a square metre: no slivers


def test_counties_tile_their_city(
    counties_ea: gpd.GeoDataFrame, cities_ea: gpd.GeoDataFrame
) -> None:
    county_sum = counties_ea.area.groupby(counties_ea["city_code"]).sum()
    city_area = cities_ea.set_index("code").area
    rel = (county_sum.loc[city_area.index] - city_area).abs() / city_area
    assert (rel < 0.005).all(), rel.to_dict()
    # and each county lies inside its city
    city_geom = cities_ea.set_index("code").geometry
    inside = counties_ea.geometry.to_numpy()
    outer = city_geom.loc[counties_ea["city_code"]].to_numpy()
    outside_m2 = shapely.area(shapely.difference(inside, outer))
    assert outside_m2.max() < 1.0


def test_counties_and_cities_tile_the_province(
    counties_ea: gpd.GeoDataFrame, cities_ea: gpd.GeoDataFrame
) -> None:
    prov = gpd.GeoSeries([boundaries.province()], crs=boundaries.WGS84)
    prov_area = prov.to_crs(boundaries.EQUAL_AREA_CRS).area.iloc[0]
    assert abs(counties_ea.area.sum() - prov_area) / prov_area < 0.005
    assert abs(cities_ea.area.sum() - prov_area) / prov_area < 0.005


def test_province_area_is_about_148000_km2() -> None:
    prov = gpd.GeoSeries([boundaries.province()], crs=boundaries.WGS84)
    area_km2 = prov.to_crs(boundaries.EQUAL_AREA_CRS).area.iloc[0] / 1e6
    assert abs(area_km2 - PROVINCE_AREA_KM2) / PROVINCE_AREA_KM2 < 0.01
    # The metric CRS is close to equal-area over Liaoning (scale error below 0.25 %).
    metric_km2 = boundaries.province_metric().area / 1e6
    assert abs(metric_km2 - area_km2) / area_km2 < 0.0025


def test_province_extent_and_known_points() -> None:
    minx, miny, maxx, maxy = boundaries.province().bounds
    assert 118.5 < minx < 119.5 and 125.5 < maxx < 126.0
    assert 38.5 < miny < 39.2 and 43.2 < maxy < 43.8
    xmin, _, _, _ = boundaries.province_metric().bounds
    assert xmin > 0  # metres, not degrees
    # 沈阳 city centre (Government square) and 大连 (Xinghai square) in the right counties.
    pts = gpd.GeoDataFrame(
        {"expect": ["沈河区", "沙河口区"]},
        geometry=gpd.points_from_xy([123.4315, 121.5870], [41.8057, 38.8800]),
        crs=boundaries.WGS84,
    )
    joined = gpd.sjoin(pts, boundaries.counties(), predicate="within")
    assert joined["name"].tolist() == pts["expect"].tolist()


def test_metric_crs_choice() -> None:
    from pyproj import CRS

    crs = CRS(boundaries.METRIC_CRS)
    assert crs.is_projected
    assert crs.axis_info[0].unit_name == "metre"
    assert crs.coordinate_operation is not None
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    assert params["Longitude of natural origin"] == pytest.approx(123.0)


# --- look-ups -------------------------------------------------------------------------------


def test_find_county_by_full_name() -> None:
    row = boundaries.find_county("岫岩满族自治县")
    assert isinstance(row, pd.Series)
    assert (row["code"], row["city"]) == ("210323", "鞍山市")


def test_find_county_by_short_name() -> None:
    assert boundaries.find_county("岫岩")["name"] == "岫岩满族自治县"
    assert boundaries.find_county(" 沈河 ")["name"] == "沈河区"


def test_find_county_by_alias() -> None:
    assert boundaries.find_county("喀左")["name"] == "喀喇沁左翼蒙古族自治县"
    assert boundaries.find_county("本溪县")["code"] == "210521"


def test_find_county_by_former_suffix() -> None:
    assert boundaries.find_county("大洼县")["name"] == "大洼区"


def test_find_county_by_code() -> None:
    assert boundaries.find_county("210303")["name"] == "铁西区"
    assert boundaries.find_county("210303")["city"] == "鞍山市"


def test_find_county_with_city() -> None:
    assert boundaries.find_county("铁西区", city="沈阳")["code"] == "210106"
    assert boundaries.find_county("铁西区", city="鞍山市")["code"] == "210303"
    assert boundaries.find_county("铁西", city="210300")["code"] == "210303"
    assert boundaries.find_county("辽宁省鞍山市铁西区")["code"] == "210303"


def test_find_county_ambiguous_asks_for_city() -> None:
    with pytest.raises(InputError, match=r"'铁西区' is ambiguous: .*沈阳市.*鞍山市.*which city"):
        boundaries.find_county("铁西区")


def test_find_county_not_in_given_city() -> None:
    with pytest.raises(InputError, match=r"no county '铁西区' in 大连市.*沈阳市.*鞍山市"):
        boundaries.find_county("铁西区", city="大连")


def test_find_county_given_a_city_name() -> None:
    with pytest.raises(InputError, match=r"'抚顺市' is a city, not a county"):
        boundaries.find_county("抚顺市")


def test_find_county_city_in_query_conflicts_with_city() -> None:
    with pytest.raises(InputError, match=r"names 鞍山市 but city='沈阳' was given"):
        boundaries.find_county("鞍山市铁西区", city="沈阳")


def test_find_county_unknown_lists_close_matches() -> None:
    with pytest.raises(UnknownPlaceError, match=r"unknown county '岫言县'.*岫岩满族自治县") as info:
        boundaries.find_county("岫言县")
    assert info.value.suggestions[0] == "岫岩满族自治县"
    assert len(info.value.suggestions) <= 5
    assert isinstance(info.value, InputError)


def test_find_county_unknown_without_matches() -> None:
    with pytest.raises(UnknownPlaceError, match=r"^unknown county 'Springfield'$") as info:
        boundaries.find_county("Springfield")
    assert info.value.suggestions == []


def test_find_county_unknown_code() -> None:
    with pytest.raises(UnknownPlaceError, match=r"unknown county '219999'"):
        boundaries.find_county("219999")


def test_find_city() -> None:
    assert boundaries.find_city("沈阳")["name"] == "沈阳市"
    assert boundaries.find_city("沈阳市")["code"] == "210100"
    assert boundaries.find_city("210100")["name"] == "沈阳市"
    assert boundaries.find_city("葫芦岛")["n_counties"] == 6


def test_find_city_unknown_lists_close_matches() -> None:
    with pytest.raises(UnknownPlaceError, match=r"unknown city '葫芦'.*葫芦岛市"):
        boundaries.find_city("葫芦")


def test_find_county_unknown_city() -> None:
    with pytest.raises(UnknownPlaceError, match=r"unknown city '大蓮'.*大连市"):
        boundaries.find_county("中山区", city="大蓮")


def test_every_county_is_found_by_its_name_city_and_code(counties: gpd.GeoDataFrame) -> None:
    for row in counties.itertuples():
        assert boundaries.find_county(row.name, city=row.city)["code"] == row.code
        assert boundaries.find_county(row.code)["name"] == row.name


def test_aliases_point_to_existing_counties(counties: gpd.GeoDataFrame) -> None:
    aliases = pd.read_csv(boundaries.boundaries_dir() / "aliases.csv", dtype=str)
    by_code = counties.set_index("code")["name"]
    assert aliases["code"].isin(by_code.index).all()
    assert (aliases["code"].map(by_code) == aliases["note"]).all()
    # An alias must not shadow a real name or short name.
    assert not aliases["alias"].isin(set(counties["name"]) | set(counties["short_name"])).any()


# --- data folder ----------------------------------------------------------------------------


def test_data_dir_default_is_the_repo_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(boundaries.DATA_DIR_ENV, raising=False)
    assert boundaries.data_dir() == Path(__file__).resolve().parents[2] / "data"


def test_data_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src = boundaries.data_dir() / "boundaries"
    (tmp_path / "boundaries").mkdir()
    for name in ("counties.geojson", "cities.geojson"):
        shutil.copy(src / name, tmp_path / "boundaries" / name)
    monkeypatch.setenv(boundaries.DATA_DIR_ENV, str(tmp_path))
    assert boundaries.data_dir() == tmp_path
    assert len(boundaries.counties()) == 100
    # without aliases.csv only the alias look-up is lost
    with pytest.raises(UnknownPlaceError):
        boundaries.find_county("喀左")


def test_data_dir_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(boundaries.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match=r"nowhere .*does not exist; set LNPLAN_DATA_DIR"):
        boundaries.data_dir()


def test_boundary_files_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(boundaries.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(InputError, match=r"counties.geojson, cities.geojson missing.*rebuild"):
        boundaries.counties()


# --- CLI ------------------------------------------------------------------------------------


def test_cli_boundaries_lists_cities_and_totals() -> None:
    result = CliRunner().invoke(app, ["boundaries"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "14 cities, 100 counties" in result.output
    for code, name in [("210100", "沈阳市"), ("211400", "葫芦岛市")]:
        assert re.search(rf"{code}\s*│\s*{name}", result.output)
    assert re.search(r"沈阳市\s*│\s*13\b", result.output)


def test_cli_boundaries_missing_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(boundaries.DATA_DIR_ENV, str(tmp_path))
    result = CliRunner().invoke(app, ["boundaries"])
    assert result.exit_code == 2
    assert "counties.geojson, cities.geojson missing" in result.output
    assert "Traceback" not in result.output


def test_geometries_are_rounded_to_six_decimals(counties: gpd.GeoDataFrame) -> None:
    xy = shapely.get_coordinates(counties.geometry.to_numpy())
    assert np.allclose(xy, np.round(xy, 6), rtol=0, atol=1e-9)
