"""The shared maps render in a real browser with no network, as an official behind a blocked CDN
would open them.

Needs Debian's chromium (``.ci/run`` installs it). Skips where it is missing, fails when CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lnplan.geo import boundaries
from lnplan.maps.boundaries import boundary_map, save_map

#: Leaflet adds this class to the map's element when its JavaScript runs.
LEAFLET_RAN = re.compile(r'class="[^"]*leaflet-container')
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "chromium not installed (apt-get install chromium; .ci/run does this)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def rendered_dom(chromium: str, page: Path, profile: Path) -> str:
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_offline_map_renders_without_network(chromium: str, tmp_path: Path) -> None:
    page = save_map(
        boundary_map(boundaries.counties(), boundaries.cities(), tiles="none"),
        tmp_path / "index.html",
    )
    dom = rendered_dom(chromium, page, tmp_path / "profile")
    assert LEAFLET_RAN.search(dom)  # Leaflet ran: its JS was embedded
    assert "<canvas" in dom  # the polygons were drawn
    assert "Counties (100)" in dom and "Cities (14)" in dom


def test_cdn_map_stays_blank_without_network(chromium: str, tmp_path: Path) -> None:
    # The control case: the same map with CDN assets does not render here (no network), which
    # shows that the test above can fail.
    page = save_map(
        boundary_map(boundaries.counties(), boundaries.cities(), tiles="none", offline=False),
        tmp_path / "index.html",
    )
    dom = rendered_dom(chromium, page, tmp_path / "profile")
    assert not LEAFLET_RAN.search(dom)
    assert "<canvas" not in dom


def test_programme_map_with_every_layer_kind_renders(chromium: str, tmp_path: Path) -> None:
    # A choropleth legend once pulled d3 from a CDN and stopped the whole map script offline.
    import geopandas as gpd
    from shapely.geometry import LineString

    from lnplan.maps.plain import write_layers_map

    counties = boundaries.counties()
    fund = counties[["name", "geometry"]].head(5).copy()
    fund["amount_yuan"] = [1e6, 2e6, 3e6, 4e6, 5e6]
    sites = gpd.GeoDataFrame(
        {"covered": [10, 20]}, geometry=gpd.points_from_xy([123.4, 121.6], [41.8, 38.9]), crs=4326
    )
    routes = gpd.GeoDataFrame(
        {"team": ["A"]}, geometry=[LineString([(123.4, 41.8), (121.6, 38.9)])], crs=4326
    )
    page = write_layers_map(
        tmp_path / "m.html",
        {"fund": fund, "sites": sites, "routes": routes},
        counties,
        title="t",
        tiles="none",
    )
    dom = rendered_dom(chromium, page, tmp_path / "profile")
    assert LEAFLET_RAN.search(dom)
    assert "leaflet-control-layers" in dom  # the script ran to its end
    for label in ("fund", "sites", "routes"):
        assert f"> {label}</span>" in dom or f">{label}</span>" in dom or f" {label}<" in dom
