"""A map page renders in a real browser with no network (Leaflet embedded), and the same page with
CDN assets does not: the control that shows the browser checks of test_demo_run can fail.

Needs Debian's chromium (``.ci/run`` installs it). Skips where it is missing, fails when CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pytest

from lnplan.geo import boundaries
from lnplan.maps.page import MapPage, basemap_layers, display_outlines, esc
from lnplan.report.snapshot import chromium_flags


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "chromium not installed (apt-get install chromium; .ci/run does this)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def dom_of(chromium: str, page: Path, profile: Path) -> str:
    done = subprocess.run(
        [chromium, *chromium_flags(profile), "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def page(offline: bool) -> MapPage:
    evil = gpd.GeoDataFrame(geometry=gpd.points_from_xy([123.4], [41.8]), crs=4326)
    p = MapPage(title="<script>alert(1)</script>", lang="zh", sentences=["一句话"], offline=offline)
    basemap_layers(p, display_outlines(boundaries.counties()))
    p.add("g", '"县"<b>', evil, styles=[{}], popup=[esc("<script>alert(1)</script>")])
    return p


def test_page_renders_offline(chromium: str, tmp_path: Path) -> None:
    dom = dom_of(chromium, page(True).save(tmp_path / "m.html"), tmp_path / "profile")
    assert 'data-ln-ready="1"' in dom
    assert 'data-layer="县界" data-features="100" data-expected="100"' in dom
    assert "<script>alert(1)</script>" not in dom.split("</head>", 1)[1].replace(
        "&lt;script&gt;", ""
    )


def test_cdn_page_stays_blank_without_network(chromium: str, tmp_path: Path) -> None:
    dom = dom_of(chromium, page(False).save(tmp_path / "m.html"), tmp_path / "profile")
    assert 'data-ln-ready="1"' not in dom
    assert 'data-features="' not in dom
