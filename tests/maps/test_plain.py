"""Plain result maps: every layer kind draws, private columns are refused."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from lnplan.errors import CRSError, LnplanError
from lnplan.geo import boundaries
from lnplan.maps.boundaries import boundary_map, geojson_text
from lnplan.maps.plain import layers_map, write_layers_map


def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site": ["甲站", "乙站"], "households_covered": [120, 40]},
        geometry=gpd.points_from_xy([123.43, 121.61], [41.80, 38.91]),
        crs="EPSG:4326",
    )


def test_points_polygons_and_lines_draw(tmp_path: Path) -> None:
    counties = boundaries.counties()
    amounts = counties[["name", "geometry"]].head(5).copy()
    amounts["amount_yuan"] = [1e6, 2e6, 3e6, 4e6, 5e6]
    amounts.attrs["value_column"] = "amount_yuan"
    route = gpd.GeoDataFrame(
        {"team": ["A"]}, geometry=[LineString([(123.43, 41.80), (121.61, 38.91)])], crs=4326
    )
    path = write_layers_map(
        tmp_path / "m.html",
        {"sites": sites(), "fund": amounts, "routes": route},
        counties,
        title="测试 Test",
        notes=["synthetic demo data"],
    )
    html = path.read_text(encoding="utf-8")
    assert "households_covered" in html and "amount_yuan" in html
    assert "synthetic demo data" in html
    assert "cdn.jsdelivr.net" not in html


def test_household_columns_are_refused() -> None:
    layer = sites()
    layer["household_id"] = ["h1", "h2"]
    with pytest.raises(LnplanError, match="has household columns"):
        layers_map({"bad": layer}, boundaries.counties(), title="x")


def test_layer_without_crs_is_refused() -> None:
    layer = sites().set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="map layer 'bad' has no CRS"):
        layers_map({"bad": layer}, boundaries.counties(), title="x")


def test_unknown_value_column() -> None:
    layer = sites()
    layer.attrs["value_column"] = "nope"
    with pytest.raises(LnplanError, match="value_column 'nope' is not a column"):
        layers_map({"s": layer}, boundaries.counties(), title="x")


def test_boundary_map_needs_wgs84() -> None:
    with pytest.raises(CRSError, match="maps need EPSG:4326"):
        boundary_map(boundaries.counties().to_crs(boundaries.METRIC_CRS), boundaries.cities())


def test_geojson_rounds_coordinates_and_keeps_properties() -> None:
    layer = gpd.GeoDataFrame(
        {"name": ["甲"], "value": [1.5]},
        geometry=gpd.points_from_xy([123.4567891234], [41.8000049999]),
        crs="EPSG:4326",
    )
    data = json.loads(geojson_text(layer))
    feature = data["features"][0]
    assert feature["geometry"]["coordinates"] == [123.45679, 41.8]
    assert feature["properties"] == {"name": "甲", "value": 1.5}
    assert layer.geometry.iloc[0].x == 123.4567891234  # the input is not modified


def test_maps_embed_leaflet_only(tmp_path: Path) -> None:
    counties = boundaries.counties()
    path = write_layers_map(tmp_path / "m.html", {"sites": sites()}, counties, title="t")
    text = path.read_text(encoding="utf-8")
    assert "Leaflet 1.9" in text  # embedded, so the map works offline
    for unused in ("Font Awesome", "Bootstrap", "jQuery"):
        assert unused not in text
    assert path.stat().st_size < 2_000_000
