"""Writing what programmes return: tables (CSV, workbook) and layers (GeoPackage).

Programmes return results (:class:`lnplan.programs.ProgrammeOutput`); this module writes them:

- :func:`write_output` — one programme's tables as ``<table>.csv`` (UTF-8 with BOM, so that Excel
  opens the Chinese intact), ``.xlsx`` when asked, and its layers in ``<programme>.gpkg``;
- :func:`write_run_deliverables` — the run's workbook ``方案汇总.xlsx`` (a first
  sheet of key figures and settings, then a sheet per table with Chinese headers and units, column
  widths that fit, frozen header rows) and ``layers.gpkg`` (every shareable layer in EPSG:4326;
  each layer's Chinese name is its GeoPackage description and in ``layer_names.csv``).

Layers and tables are shareable by the programme contract; a layer with household columns is
refused here as a last guard.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lnplan.errors import LnplanError
from lnplan.report.io import atomic_write

if TYPE_CHECKING:
    import geopandas as gpd

    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import Scenario

WORKBOOK = "方案汇总.xlsx"
RUN_GPKG = "layers.gpkg"
PRIVATE_COLUMNS = ("household_id", "household_ids", "household_name")

#: Chinese column headers with units, for the workbook.
HEADERS: dict[str, str] = {
    "candidate_id": "候选点编号",
    "status": "类型",
    "kind": "点位类别",
    "name": "名称",
    "county_code": "县（区）代码",
    "county": "县（区）",
    "city_code": "城市代码",
    "city": "城市",
    "township_code": "乡镇代码",
    "township": "乡镇",
    "catchment_households": "分配服务家庭（户）",
    "households_within_reach": "可达家庭（户）",
    "households_only_this_site": "仅此点可达家庭（户）",
    "households": "需服务家庭（户）",
    "covered_households": "可达家庭（户）",
    "coverage_rate": "覆盖率（0–1）",
    "sites": "新建示范点（个）",
    "existing_sites": "现有站点（个）",
    "amount_yuan": "分配金额（元）",
    "need": "加权需求人数（人）",
    "share_of_budget": "资金占比（0–1）",
    "share_of_need": "需求占比（0–1）",
    "ideal_yuan": "按需求比例金额（元）",
    "floor_yuan": "最低额（元）",
    "cap_yuan": "上限（元）",
    "binding": "起作用的约束",
    "next_unit_delta": "再增一个单位的变化",
    "gain_at_budget_plus_unit_yuan": "预算增加一个单位时的收益",
    "budget_yuan": "预算（元）",
    "objective": "目标值",
    "team": "专家队",
    "trip": "趟次",
    "day": "第几天",
    "order": "到访顺序",
    "visit": "到访点",
    "arrive": "到达时间",
    "start": "开始时间",
    "end": "结束时间",
    "depart": "离开时间",
    "children_screened": "筛查儿童（人）",
    "children_left": "未筛查儿童（人）",
    "offered_to_solver": "纳入计算",
    "stops": "站点数（个）",
    "km_driven": "行驶里程（公里）",
    "hours_driven": "驾驶时间（小时）",
    "overnight": "住宿地",
    "trips": "趟数",
    "days_away": "外出天数（天）",
    "townships_visited": "到访乡镇（个）",
    "new_jobs_per_year": "每年新增就业（人）",
    "trainees_per_year": "每年培训（人）",
    "barrier_free_renovations": "无障碍改造（户）",
    "home_rehab_fitness_households": "康复健身进家庭（户）",
    "five_ones_households": "“五个一”进家庭（户）",
    "children_rehab_services": "儿童康复服务（人）",
    "target": "指标",
    "level": "层级",
    "within": "所属范围",
    "candidates": "并列对象",
    "seats": "名额",
    "given_to": "给予",
    "host_code": "集中点乡镇代码",
    "host": "集中筛查点",
    "km_to_host": "到集中点距离（公里）",
    "children_awaiting": "待筛查儿童（人）",
}

#: Chinese names of tables and layers (sheet names, GeoPackage descriptions).
NAMES: dict[str, str] = {
    "sites": "示范点",
    "coverage_by_city": "各市覆盖",
    "coverage_by_county": "各县覆盖",
    "catchments": "服务范围",
    "coverage": "覆盖格网",
    "existing_sites": "现有站点",
    "allocation": "资金分配",
    "sensitivity": "预算敏感性",
    "targets_by_city": "各市任务",
    "targets_by_county": "各县任务",
    "ties": "并列处理",
    "fund_by_county": "各县资金",
    "schedule": "筛查日程",
    "team_days": "专家队每日",
    "teams": "专家队",
    "unscreened": "未筛查乡镇",
    "screened": "已筛查乡镇",
    "routes": "筛查路线",
    "gathering": "集中筛查点",
}


def _check_shareable(output: ProgrammeOutput, name: str, frame: pd.DataFrame) -> None:
    private = [c for c in frame.columns if str(c).lower() in PRIVATE_COLUMNS]
    if private:
        raise LnplanError(
            f"programme {output.name}: {name!r} has household rows; only aggregates may be "
            f"written (it has the columns {private}; use lnplan.geo.aggregate.shareable_cells)"
        )


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """``table`` as CSV in UTF-8 with a BOM (Excel then reads Chinese correctly)."""
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, encoding="utf-8-sig"))


def write_output(output: ProgrammeOutput, folder: Path, *, formats: Sequence[str]) -> list[Path]:
    """Write a programme's tables and layers into ``folder`` in the scenario's formats."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in output.tables.items():
        _check_shareable(output, name, table)
        if "csv" in formats or not {"xlsx"} & set(formats):
            written.append(write_csv(table, folder / f"{name}.csv"))
        if "xlsx" in formats:
            path = folder / f"{name}.xlsx"
            table.to_excel(path, index=False)
            written.append(path)
    for name, layer in output.layers.items():
        _check_shareable(output, name, layer)
        if "gpkg" in formats:
            path = folder / f"{output.name}.gpkg"
            layer.to_file(path, layer=name, driver="GPKG")
            if path not in written:
                written.append(path)
        if "geojson" in formats:
            path = folder / f"{name}.geojson"
            layer.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
            written.append(path)
    return written


def write_run_deliverables(
    scenario: Scenario, outputs: Sequence[ProgrammeOutput], out_dir: Path
) -> list[Path]:
    """The run's workbook and GeoPackage of every shareable layer (nothing without outputs)."""
    if not outputs:
        return []
    out = Path(out_dir)
    return [
        write_workbook(scenario, outputs, out / WORKBOOK),
        *write_run_gpkg(outputs, out / RUN_GPKG),
    ]


# --- workbook -------------------------------------------------------------------------------------


def _width(values: pd.Series, header: str) -> float:
    """A column width in Excel units that fits ``values`` and ``header`` (CJK counts double)."""

    def w(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    sample = values.head(500).astype(str)
    longest = max([w(header), *(w(v) for v in sample)], default=8)
    return float(min(max(longest + 2, 6), 60))


def _sheet_name(text: str, used: set[str]) -> str:
    name = "".join(ch for ch in text if ch not in "[]:*?/\\")[:31] or "表"
    base, k = name, 2
    while name in used:
        name = f"{base[:28]}_{k}"
        k += 1
    used.add(name)
    return name


def key_figures(scenario: Scenario, outputs: Sequence[ProgrammeOutput]) -> pd.DataFrame:
    """The first sheet: each programme's key sentences, then the scenario's settings."""
    from lnplan.maps import sentences_of
    from lnplan.maps.text import word

    lang = scenario.maps.language
    rows: list[tuple[str, str]] = []
    for output in outputs:
        sentences, method = sentences_of(output, lang)
        titles = {"fitness_sites": "sites", "employment_fund": "fund", "screening_routes": "routes"}
        head = word(titles[output.name], lang) if output.name in titles else output.name
        for s in sentences:
            rows.append((head, s))
        if method:
            rows.append((head + (" · 方法说明" if lang == "zh" else " · method"), method))
    settings = json.loads(scenario.to_json())
    for section, values in settings.items():
        if isinstance(values, Mapping):
            for key, value in values.items():
                rows.append((f"设置 {section}.{key}", _plain(value)))
        else:
            rows.append((f"设置 {section}", _plain(values)))
    cols = ["项目", "内容"] if lang == "zh" else ["Item", "Value"]
    return pd.DataFrame(rows, columns=cols)


def _plain(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write_workbook(scenario: Scenario, outputs: Sequence[ProgrammeOutput], path: Path) -> Path:
    """``方案汇总.xlsx``: key figures and settings first, then a sheet per table."""
    import xlsxwriter

    sheets: list[tuple[str, pd.DataFrame]] = [
        ("关键数字与设置" if scenario.maps.language == "zh" else "Key figures", key_figures(
            scenario, outputs))
    ]  # fmt: skip
    for output in outputs:
        for name, table in output.tables.items():
            _check_shareable(output, name, table)
            sheets.append((NAMES.get(name, name), table))

    def write(tmp: Path) -> None:
        book = xlsxwriter.Workbook(str(tmp), {"nan_inf_to_errors": True})
        head = book.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
             "valign": "top", "font_name": "Microsoft YaHei"}
        )  # fmt: skip
        body = book.add_format({"font_name": "Microsoft YaHei"})
        used: set[str] = set()
        for title, table in sheets:
            sheet = book.add_worksheet(_sheet_name(title, used))
            headers = [HEADERS.get(str(c), str(c)) for c in table.columns]
            for j, (col, header) in enumerate(zip(table.columns, headers, strict=True)):
                sheet.write(0, j, header, head)
                sheet.set_column(j, j, _width(table[col], header), body)
                for i, value in enumerate(table[col].tolist(), start=1):
                    if value is None or (isinstance(value, float) and math.isnan(value)):
                        continue
                    if isinstance(value, bool):
                        sheet.write_boolean(i, j, value)
                    elif isinstance(value, int | float):
                        sheet.write_number(i, j, value)
                    else:
                        sheet.write_string(i, j, str(value))
            sheet.freeze_panes(1, 0)
        book.close()

    return atomic_write(path, write)


# --- GeoPackage of the run ------------------------------------------------------------------------


def shareable_layers(outputs: Sequence[ProgrammeOutput]) -> dict[str, gpd.GeoDataFrame]:
    """Every layer of every programme, named ``<programme>__<layer>``, in EPSG:4326."""
    layers = {}
    for output in outputs:
        for name, layer in output.layers.items():
            _check_shareable(output, name, layer)
            if layer.crs is None:
                raise LnplanError(f"programme {output.name}: layer {name!r} has no CRS")
            layers[f"{output.name}__{name}"] = layer.to_crs("EPSG:4326")
    return layers


def write_run_gpkg(outputs: Sequence[ProgrammeOutput], path: Path) -> list[Path]:
    """``layers.gpkg`` with every shareable layer (WGS-84) and ``layer_names.csv`` of aliases."""
    layers = shareable_layers(outputs)
    if not layers:
        return []

    # Written straight to ``path``: the run writes into its own temporary folder (lnplan.run).
    path.unlink(missing_ok=True)
    for name, layer in layers.items():
        alias = NAMES.get(name.split("__", 1)[1], name)
        layer.to_file(path, layer=name, driver="GPKG", layer_options={"DESCRIPTION": alias})
    names = pd.DataFrame(
        {
            "layer": list(layers),
            "名称": [NAMES.get(n.split("__", 1)[1], n) for n in layers],
            "features": [len(v) for v in layers.values()],
        }
    )
    return [path, write_csv(names, path.with_name("layer_names.csv"))]
