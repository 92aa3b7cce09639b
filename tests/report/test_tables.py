"""Tables and layers of a run: CSV with BOM, the workbook, the run's GeoPackage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest

from lnplan.errors import LnplanError
from lnplan.programs import ProgrammeOutput
from lnplan.report.tables import WORKBOOK, write_output, write_run_deliverables
from lnplan.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "quick.toml"


def output() -> ProgrammeOutput:
    sites = pd.DataFrame({"name": ["甲站", "乙站"], "catchment_households": [120, 40]})
    layer = gpd.GeoDataFrame(
        sites, geometry=gpd.points_from_xy([123.43, 121.61], [41.80, 38.91]), crs="EPSG:4326"
    ).to_crs(32651)
    return ProgrammeOutput(
        name="fitness_sites",
        tables={"sites": sites},
        layers={"sites": layer},
        summary={"sites": 2, "households": 200, "covered_households": 160,
                 "reach": "30 min by road", "status": "feasible", "gap": 0.02},
    )  # fmt: skip


def test_csv_has_a_bom_for_excel(tmp_path: Path) -> None:
    paths = write_output(output(), tmp_path, formats=["csv", "gpkg"])
    csv = tmp_path / "sites.csv"
    assert csv in paths
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(csv, encoding="utf-8-sig")["name"].tolist() == ["甲站", "乙站"]


def test_household_columns_are_refused(tmp_path: Path) -> None:
    bad = ProgrammeOutput(name="x", tables={"t": pd.DataFrame({"household_id": ["H1"]})})
    with pytest.raises(LnplanError, match="has household rows; only aggregates"):
        write_output(bad, tmp_path, formats=["csv"])


def test_workbook_and_run_geopackage(tmp_path: Path) -> None:
    sc = load_scenario(SCENARIO)
    paths = write_run_deliverables(sc, [output()], tmp_path)
    book = openpyxl.load_workbook(tmp_path / WORKBOOK)
    first, sites = book.worksheets[0], book.worksheets[1]
    assert first.title == "关键数字与设置"
    texts = [c.value for c in first["B"] if c.value]
    assert any("2 个新示范点" in str(t) for t in texts)  # key sentences first
    assert any(str(c.value).startswith("设置 seed") for c in first["A"])  # then the settings
    assert sites.title == "示范点"
    assert [c.value for c in sites[1]] == ["名称", "分配服务家庭（户）"]
    assert sites.freeze_panes == "A2"
    assert sites.column_dimensions["B"].width >= 18  # fits the Chinese header
    gpkg = tmp_path / "layers.gpkg"
    assert gpkg in paths
    layers = pyogrio.list_layers(gpkg)
    assert [str(n) for n in layers[:, 0]] == ["fitness_sites__sites"]
    assert gpd.read_file(gpkg).crs.equals("EPSG:4326")  # exports in WGS-84
    with sqlite3.connect(gpkg) as db:  # the Chinese name is the layer's description (alias)
        rows = db.execute("select table_name, description from gpkg_contents").fetchall()
    assert rows == [("fitness_sites__sites", "示范点")]
    names = pd.read_csv(tmp_path / "layer_names.csv", encoding="utf-8-sig")
    assert names["名称"].tolist() == ["示范点"]
