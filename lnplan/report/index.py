"""The run's ``index.html``: key figures of each programme and links to every map, table and file.

A plain, small HTML page (no script, no external asset) that opens anywhere, phones included.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lnplan.report.io import atomic_write_text

if TYPE_CHECKING:
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import Scenario
    from lnplan.world import World

INDEX = "index.html"

_CSS = """
body{font:15px/1.6 "Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:0 auto;
 max-width:860px;padding:12px 16px;color:#222}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:18px 0 6px 0;border-bottom:1px solid #ccc}
.label{color:#b7410e;font-weight:bold}ul{padding-left:20px}a{color:#1a5fb4}
.files{font-size:13px;color:#444}
"""

_TITLES = {
    "zh": {
        "fitness_sites": "健身示范点",
        "employment_fund": "就业保障金",
        "screening_routes": "筛查路线",
        "maps": "地图",
        "overview": "总览地图（全部方案）",
        "map": "地图",
        "files": "表格与数据",
        "workbook": "方案汇总工作簿",
        "gpkg": "全部图层（GeoPackage，WGS-84）",
    },
    "en": {
        "fitness_sites": "Fitness demonstration sites",
        "employment_fund": "Employment security fund",
        "screening_routes": "Screening tours",
        "maps": "Maps",
        "overview": "Overview map (all plans)",
        "map": "map",
        "files": "Tables and data",
        "workbook": "Workbook of the plan",
        "gpkg": "All layers (GeoPackage, WGS-84)",
    },
}


def write_index(
    scenario: Scenario, world: World, outputs: Sequence[ProgrammeOutput], out_dir: Path
) -> Path:
    """Write ``index.html`` into ``out_dir`` (after the maps and tables are written there)."""
    from lnplan.maps import MAP_FILE, OVERVIEW_FILE, sentences_of
    from lnplan.maps.page import esc
    from lnplan.maps.text import word
    from lnplan.report.tables import NAMES, RUN_GPKG, WORKBOOK

    out = Path(out_dir)
    lang = scenario.maps.language
    t = _TITLES[lang]
    parts = [f"<h1>{esc(scenario.name)}</h1>"]
    if scenario.description:
        parts.append(f"<p>{esc(scenario.description)}</p>")
    if world.synthetic:
        parts.append(f'<p class="label">{esc(word("synthetic", lang))}</p>')
    links = []
    if (out / OVERVIEW_FILE).exists():
        links.append(f'<li><a href="{OVERVIEW_FILE}">{esc(t["overview"])}</a></li>')
    if (out / WORKBOOK).exists():
        shown = f"（{WORKBOOK}）" if lang == "zh" else f" ({WORKBOOK})"
        links.append(f'<li><a href="{WORKBOOK}">{esc(t["workbook"])}{shown}</a></li>')
    if (out / RUN_GPKG).exists():
        links.append(f'<li><a href="{RUN_GPKG}">{esc(t["gpkg"])}</a></li>')
    if links:
        parts.append(f"<ul>{''.join(links)}</ul>")
    for output in outputs:
        title = t.get(output.name, output.name)
        parts.append(f"<h2>{esc(title)}</h2>")
        sentences, _method = sentences_of(output, lang)
        parts += [f"<p>{esc(s)}</p>" for s in sentences]
        folder = out / output.name
        items = []
        if (folder / MAP_FILE).exists():
            items.append(f'<a href="{esc(output.name)}/{MAP_FILE}"><b>{esc(t["map"])}</b></a>')
        if folder.is_dir():
            for f in sorted(folder.iterdir()):
                if f.name == MAP_FILE or f.name.startswith(".") or not f.is_file():
                    continue
                shown = NAMES.get(f.stem, f.stem) if lang == "zh" else f.stem
                items.append(
                    f'<a href="{esc(output.name)}/{esc(f.name)}">{esc(shown)}'
                    f" ({esc(f.suffix.lstrip('.'))})</a>"
                )
        if items:
            parts.append(f'<p class="files">{" · ".join(items)}</p>')
    body = "\n".join(parts)
    page = (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        f'initial-scale=1"><title>{esc(scenario.name)}</title><style>{_CSS}</style></head>'
        f'<body><main id="ln-index">{body}</main></body></html>\n'
    )
    return atomic_write_text(out / INDEX, page)
