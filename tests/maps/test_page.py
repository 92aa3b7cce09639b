"""The map page: escaping of user names, tiles, the GCJ-02 display shift, display outlines."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from lnplan.errors import InputError
from lnplan.geo import boundaries
from lnplan.geo.boundaries import METRIC_CRS
from lnplan.maps.page import MapPage, display_outlines, esc, resolve_tiles, shift_for_display

EVIL = "<script>alert(1)</script>"


def test_user_names_are_escaped_everywhere(tmp_path: Path) -> None:
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([123.4], [41.8]), crs=4326)
    county = "He said \"县\" & 'left'"
    page = MapPage(title=EVIL, lang="zh", sentences=[f"{EVIL} {county}"], label=county)
    page.add("g", EVIL, pts, styles=[{}], popup=[esc(EVIL)], tooltip=[esc(county)], label=[EVIL])
    page.legend(EVIL, [("#000", esc(county))])
    html = page.save(tmp_path / "m.html").read_text(encoding="utf-8")
    assert EVIL not in html  # neither as markup nor inside a script
    assert "alert(1)" in html  # the text is there, escaped
    assert "</script>alert" not in html
    assert '"县"' not in re.sub(r"<script.*?</script>", "", html, flags=re.S)


def test_tiles_auto_and_tianditu_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    assert resolve_tiles("auto", None) == ("none", None)
    assert resolve_tiles("auto", "k1") == ("tianditu", "k1")
    monkeypatch.setenv("TIANDITU_KEY", "envkey")
    assert resolve_tiles("auto", "k1") == ("tianditu", "envkey")
    monkeypatch.delenv("TIANDITU_KEY")
    with pytest.raises(InputError, match="needs a key: set TIANDITU_KEY"):
        resolve_tiles("tianditu", None)
    with pytest.raises(InputError, match="unknown tiles 'google'"):
        resolve_tiles("google", None)


def test_tianditu_page_carries_the_key(tmp_path: Path) -> None:
    html = MapPage(title="t", lang="zh", tiles="tianditu", tiles_key="KEY123").render()
    assert "tk=KEY123" in html and "vec_w" in html and "cva_w" in html
    assert "tianditu" not in MapPage(title="t", lang="zh").render()


def test_gaode_shift_lands_on_the_gcj02_position() -> None:
    # The published reference pair tests/geo/test_datum.py checks the converter against.
    pt = gpd.GeoDataFrame(geometry=gpd.points_from_xy([116.397128], [39.916527]), crs=4326)
    shown = shift_for_display(pt, "gaode").geometry.iloc[0]
    expected = gpd.GeoSeries(gpd.points_from_xy([116.403370], [39.917930]), crs=4326)
    got = gpd.GeoSeries([shown], crs=4326)
    metres = got.to_crs(METRIC_CRS).distance(expected.to_crs(METRIC_CRS)).iloc[0]
    assert metres < 15  # 4 decimals (~10 m) of display rounding included
    unshifted = shift_for_display(pt, "none").geometry.iloc[0]
    assert unshifted.x == pytest.approx(116.3971, abs=1e-9)  # only rounding without Gaode


def test_display_outlines_keep_shared_borders() -> None:
    counties = boundaries.counties()
    out = display_outlines(counties)
    assert len(out.counties) == len(counties) and len(out.cities) == 14
    # One topology: the simplified counties still tile the province (no gaps, no overlaps).
    geoms = out.counties.to_crs(METRIC_CRS).geometry.to_numpy()
    assert shapely.coverage_is_valid(geoms, gap_width=0.0) is not False
    union = shapely.coverage_union_all(geoms)
    assert abs(sum(g.area for g in geoms) - union.area) / union.area < 1e-6
    nverts = shapely.get_num_coordinates(out.counties.geometry.to_numpy()).sum()
    assert nverts < shapely.get_num_coordinates(counties.geometry.to_numpy()).sum()
    # the input is untouched
    assert np.isclose(counties.geometry.iloc[0].area, boundaries.counties().geometry.iloc[0].area)
