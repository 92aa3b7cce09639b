"""Maps written by `lnplan run`: options honoured, programme maps linked from the index."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from lnplan.errors import InputError
from lnplan.geo import boundaries
from lnplan.maps import write_run_maps
from lnplan.maps.boundaries import new_map
from lnplan.programs import ProgrammeOutput
from lnplan.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "quick.toml"


class FakeWorld:
    synthetic = True
    label = "SYNTHETIC DEMO DATA — test"


def test_index_links_programme_maps(tmp_path: Path) -> None:
    sc = load_scenario(SCENARIO, ["maps.tiles=none"])
    layer = gpd.GeoDataFrame(
        {"site": ["甲"], "covered": [12]}, geometry=gpd.points_from_xy([123.4], [41.8]), crs=4326
    )
    outputs = [
        ProgrammeOutput(name="fitness_sites", layers={"sites": layer}, summary={"p": 80}),
        ProgrammeOutput(name="tables_only"),
    ]
    paths = write_run_maps(sc, FakeWorld(), outputs, tmp_path)  # type: ignore[arg-type]
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "fitness_sites/map.html",
        "index.html",
    ]
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="fitness_sites/map.html"' in index
    assert "tables_only" not in index
    site_map = (tmp_path / "fitness_sites" / "map.html").read_text(encoding="utf-8")
    assert "SYNTHETIC DEMO DATA" in site_map and "p: 80" in site_map
    assert "openstreetmap" not in site_map.lower()  # tiles = none


def test_cdn_assets_when_not_offline() -> None:
    html = new_map((120, 38, 125, 43), offline=False).get_root().render()
    assert "cdn.jsdelivr.net" in html


def test_custom_tiles_need_a_url() -> None:
    with pytest.raises(InputError, match="tiles 'custom' needs a tiles_url"):
        new_map(boundaries.province().bounds, tiles="custom")


def test_unknown_tiles() -> None:
    with pytest.raises(InputError, match="unknown tiles 'google'; accepted: cartodb-positron"):
        new_map(boundaries.province().bounds, tiles="google")
