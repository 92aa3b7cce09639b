"""Point-layer readers and validation: formats, encodings, column synonyms, one test per message."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from lnplan.errors import InputError, LayerValidationError
from lnplan.geo import boundaries, datum
from lnplan.geo.layers import in_liaoning, read_layer, validate_layer

SHENYANG = (123.4315, 41.8057)
DALIAN = (121.6147, 38.9140)
DANDONG = (124.3827, 40.1290)


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def messages(problems: list) -> list[str]:
    return [str(p) for p in problems]


def test_clean_csv_with_english_columns(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "h.csv",
        f"id,lon,lat,county,count\n"
        f"a1,{SHENYANG[0]},{SHENYANG[1]},和平区,2\n"
        f"a2,{DALIAN[0]},{DALIAN[1]},中山区,1\n",
    )
    before = f.read_bytes()
    gdf = read_layer(f, "households")
    assert list(gdf["id"]) == ["a1", "a2"]
    assert gdf.crs.equals("EPSG:4326")
    assert list(gdf["count"]) == [2, 1]
    assert list(gdf["city"]) == ["沈阳市", "大连市"]
    assert list(gdf["source_row"]) == [2, 3]
    assert f.read_bytes() == before  # inputs are never modified


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_chinese_columns_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    f = write_csv(
        tmp_path / "h.csv",
        f"编号,经度,纬度,区县,户数\n1,{SHENYANG[0]},{SHENYANG[1]},岫岩,3\n",
        encoding,
    )
    gdf = read_layer(f, "households")
    assert gdf["county"].iloc[0] == "岫岩满族自治县"
    assert gdf["count"].iloc[0] == 3


def test_column_mapping(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "f.csv", f"户号,X坐标,Y坐标\nf1,{DANDONG[0]},{DANDONG[1]}\n")
    gdf = read_layer(f, "facilities", columns={"id": "户号", "lon": "X坐标", "lat": "Y坐标"})
    assert gdf["id"].iloc[0] == "f1"


def test_mapping_to_missing_column(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "f.csv", f"id,lon,lat\nf1,{DANDONG[0]},{DANDONG[1]}\n")
    _, problems = validate_layer(f, "facilities", columns={"lon": "X坐标"})
    assert "column mapping lon='X坐标': no such column; the file has: id, lon, lat" in str(
        problems[0]
    )


def test_mapping_of_unknown_field(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "f.csv", f"id,lon,lat\nf1,{DANDONG[0]},{DANDONG[1]}\n")
    _, problems = validate_layer(f, "facilities", columns={"height": "id"})
    assert "column mapping names unknown field 'height'" in str(problems[0])


def test_missing_required_column(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", "id,经度\n1,123.4\n")
    _, problems = validate_layer(f, "households")
    (p,) = problems
    assert p.column == "lat" and p.row is None
    assert "missing required column 'lat'; accepted names: lat, latitude, y, 纬度" in str(p)
    assert "the file has: id, 经度" in str(p)


def test_every_problem_is_reported_with_spreadsheet_rows(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "h.csv",
        "id,lon,lat,county,count\n"
        f"1,{SHENYANG[0]},{SHENYANG[1]},和平区,1\n"  # row 2: fine
        f"2,,{SHENYANG[1]},和平区,1\n"  # row 3: missing lon
        f"3,abc,{SHENYANG[1]},和平区,1\n"  # row 4: non-numeric lon
        f"1,{SHENYANG[0]},{SHENYANG[1]},和平区,1\n"  # row 5: duplicate id of row 2
        f"5,{SHENYANG[0]},{SHENYANG[1]},和平区,-2\n"  # row 6: negative count
        f"6,{SHENYANG[0]},{SHENYANG[1]},火星区,1\n"  # row 7: unknown county
        f"7,{SHENYANG[0]},{SHENYANG[1]},和平区,1.5\n"  # row 8: fractional count
        f"8,{SHENYANG[0]},{SHENYANG[1]},和平区,many\n",  # row 9: non-numeric count
    )
    gdf, problems = validate_layer(f, "households")
    assert gdf is None
    text = messages(problems)
    assert any("row 3, column 'lon': missing coordinate" in t for t in text)
    assert any("row 4, column 'lon': not a number; expected decimal degrees" in t for t in text)
    assert any("row 4" in t and "'abc'" in t for t in text)
    assert any("row 5, column 'id': duplicate id: already used in row 2" in t for t in text)
    assert any("row 6, column 'count': negative count" in t for t in text)
    assert any("row 7, column 'county': unknown county '火星区'" in t for t in text)
    assert any("row 8, column 'count': count must be a whole number" in t for t in text)
    assert any("row 9, column 'count': not a number; expected a whole count" in t for t in text)
    assert all(str(f) in t for t in text)
    with pytest.raises(LayerValidationError, match="7 problems found"):
        read_layer(f, "households")


def test_missing_id_and_missing_count(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", f"id,lon,lat,count\n,{SHENYANG[0]},{SHENYANG[1]},\n")
    text = messages(validate_layer(f, "households")[1])
    assert any("row 2, column 'id': missing id" in t for t in text)
    assert any("row 2, column 'count': missing count" in t for t in text)


def test_blank_rows_keep_their_numbers(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "h.csv",
        f"id,lon,lat\n1,{SHENYANG[0]},{SHENYANG[1]}\n,,\n3,x,{SHENYANG[1]}\n",
    )
    text = messages(validate_layer(f, "households")[1])
    assert len(text) == 1 and "row 4, column 'lon'" in text[0]


def test_swapped_lon_lat(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", f"id,lon,lat\n1,{SHENYANG[1]},{SHENYANG[0]}\n")
    (p,) = validate_layer(f, "households")[1]
    assert "point is outside Liaoning; longitude and latitude look swapped" in str(p)
    assert p.row == 2 and p.column == "lon/lat"


def test_projected_metres(tmp_path: Path) -> None:
    x, y = Transformer.from_crs(4326, boundaries.METRIC_CRS, always_xy=True).transform(*SHENYANG)
    f = write_csv(tmp_path / "h.csv", f"id,lon,lat\n1,{x:.1f},{y:.1f}\n")
    (p,) = validate_layer(f, "households")[1]
    assert "these look like projected metres" in str(p)


def test_projected_metres_in_another_crs(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", "id,lon,lat\n1,20500000,4630000\n")
    (p,) = validate_layer(f, "households")[1]
    assert "these look like projected metres (UTM or Gauss-Krüger), not degrees" in str(p)


def _gcj_only_point() -> tuple[float, float]:
    """A WGS-84 point inside Liaoning whose GCJ-02 position falls outside (the coast)."""
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = boundaries.province().bounds
    lon = rng.uniform(minx, maxx, 400_000)
    lat = rng.uniform(miny, maxy, 400_000)
    inside = in_liaoning(lon, lat, tolerance_km=0.0)
    g_lon, g_lat = datum.wgs84_to_gcj02(lon[inside], lat[inside])
    outside = ~in_liaoning(g_lon, g_lat)
    assert outside.any(), "no coastal test point found"
    i = int(np.flatnonzero(outside)[0])
    return float(g_lon[i]), float(g_lat[i])


def test_undeclared_gcj02(tmp_path: Path) -> None:
    lon, lat = _gcj_only_point()
    f = write_csv(tmp_path / "h.csv", f"id,lon,lat\n1,{lon!r},{lat!r}\n")
    (p,) = validate_layer(f, "households")[1]
    assert "it would be inside if the coordinates were GCJ02" in str(p)
    assert "--coords gcj02" in str(p)
    assert validate_layer(f, "households", coords="gcj02")[1] == []


def test_point_elsewhere(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", "id,lon,lat\n1,116.39,39.91\n")  # Beijing
    (p,) = validate_layer(f, "households")[1]
    assert "check the coordinates (expected longitude 118-126, latitude 38-44)" in str(p)


def test_point_in_the_sea_near_liaoning(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", "id,lon,lat\n1,121.0,39.5\n")  # Bohai Sea
    (p,) = validate_layer(f, "households")[1]
    assert "it lies beyond the provincial border or in the sea" in str(p)


def test_gcj02_input_is_converted(tmp_path: Path) -> None:
    g_lon, g_lat = datum.wgs84_to_gcj02(*SHENYANG)
    f = write_csv(tmp_path / "h.csv", f"id,lon,lat\n1,{float(g_lon)!r},{float(g_lat)!r}\n")
    gdf = read_layer(f, "households", coords="gcj02")
    assert abs(gdf["lon"].iloc[0] - SHENYANG[0]) < 1e-7
    assert gdf.attrs["coords"] == "gcj02"


def test_ambiguous_county_needs_a_city(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", f"id,lon,lat,county\n1,{SHENYANG[0]},{SHENYANG[1]},铁西区\n")
    (p,) = validate_layer(f, "households")[1]
    assert "铁西区" in str(p) and "city" in str(p)
    g = write_csv(
        tmp_path / "g.csv",
        f"id,lon,lat,county,city\n1,{SHENYANG[0]},{SHENYANG[1]},铁西区,沈阳\n",
    )
    assert read_layer(g, "households")["city"].iloc[0] == "沈阳市"


def test_xlsx(tmp_path: Path) -> None:
    f = tmp_path / "c.xlsx"
    pd.DataFrame(
        {
            "编号": ["c1", "c2", "c1"],
            "经度": [SHENYANG[0], "?", DALIAN[0]],
            "纬度": [SHENYANG[1]] * 3,
        }
    ).to_excel(f, index=False)
    text = messages(validate_layer(f, "candidates")[1])
    assert any("row 3, column '经度': not a number" in t for t in text)
    assert any("row 4, column '编号': duplicate id: already used in row 2" in t for t in text)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_vector_formats(tmp_path: Path, suffix: str) -> None:
    gdf = gpd.GeoDataFrame(
        {"id": ["s1", "s2"], "name": ["甲", "乙"]},
        geometry=gpd.points_from_xy([SHENYANG[0], DALIAN[0]], [SHENYANG[1], DALIAN[1]]),
        crs="EPSG:4326",
    )
    f = tmp_path / f"c{suffix}"
    gdf.to_file(f)
    out = read_layer(f, "candidates")
    assert list(out["id"]) == ["s1", "s2"]
    assert np.allclose(out["lon"], [SHENYANG[0], DALIAN[0]])


def test_vector_layer_in_a_projected_crs_is_reprojected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"id": ["s1"]}, geometry=gpd.points_from_xy([SHENYANG[0]], [SHENYANG[1]]), crs=4326
    ).to_crs(boundaries.METRIC_CRS)
    f = tmp_path / "c.gpkg"
    gdf.to_file(f)
    assert abs(read_layer(f, "candidates")["lat"].iloc[0] - SHENYANG[1]) < 1e-7


def test_vector_layer_with_non_point_geometry(tmp_path: Path) -> None:
    from shapely.geometry import LineString

    gdf = gpd.GeoDataFrame(
        {"id": ["s1"]}, geometry=[LineString([SHENYANG, DALIAN])], crs="EPSG:4326"
    )
    f = tmp_path / "c.geojson"
    gdf.to_file(f)
    (p,) = validate_layer(f, "candidates")[1]
    assert "feature 1, column 'geometry': not a point geometry; expected Point" in str(p)


def test_unknown_kind(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", "id,lon,lat\n")
    with pytest.raises(InputError, match="unknown layer kind 'people'; accepted: households"):
        validate_layer(f, "people")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_layer(tmp_path / "nope.csv", "households")


def test_unsupported_suffix(tmp_path: Path) -> None:
    f = tmp_path / "h.docx"
    f.write_text("x")
    with pytest.raises(InputError, match=r"unsupported file type '\.docx'; accepted: \.csv"):
        read_layer(f, "households")


def test_undecodable_text(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_bytes(b"id,lon,lat\n\x81\x30\xff\xff,1,2\n")
    with pytest.raises(InputError, match="neither UTF-8 nor GBK/GB18030"):
        read_layer(f, "households")


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("")
    with pytest.raises(InputError, match="the file is empty; expected a header row"):
        read_layer(f, "households")


def test_broken_workbook(tmp_path: Path) -> None:
    f = tmp_path / "h.xlsx"
    f.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read as an Excel workbook"):
        read_layer(f, "households")


def test_broken_vector_file(tmp_path: Path) -> None:
    f = tmp_path / "h.geojson"
    f.write_text("{not json")
    with pytest.raises(InputError, match="cannot read as a vector layer"):
        read_layer(f, "households")


def test_missing_county_name(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "h.csv", f"id,lon,lat,区县\n1,{SHENYANG[0]},{SHENYANG[1]},\n")
    (p,) = validate_layer(f, "households")[1]
    assert "row 2, column '区县': missing county name" in str(p)


def test_unknown_city_in_city_column(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "h.csv", f"id,lon,lat,county,city\n1,{SHENYANG[0]},{SHENYANG[1]},和平区,火星\n"
    )
    (p,) = validate_layer(f, "households")[1]
    assert "row 2, column 'county': unknown city '火星'" in str(p)


def test_long_problem_lists_are_summarised(tmp_path: Path) -> None:
    rows = "".join(f"{i},x,{SHENYANG[1]}\n" for i in range(60))
    f = write_csv(tmp_path / "h.csv", "id,lon,lat\n" + rows)
    with pytest.raises(LayerValidationError, match=r"60 problems found[\s\S]*and 10 more"):
        read_layer(f, "households")
