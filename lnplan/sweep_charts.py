"""Trade-off charts of a sweep, as PNG and self-contained HTML (inline SVG, no CDN).

Charts, each written when the sweep varied its x key and the rows hold its y value:

- ``coverage_vs_sites``: households within reach against the number of sites (``sites.p``); each
  point is marked with the households the added sites bring, per site (``+N 户/处``);
- ``jobs_vs_budget``: expected new jobs against the fund (``funding.budget_yuan``), when the fund
  objective is ``jobs`` (only that objective estimates jobs);
- ``screened_vs_teams`` / ``screened_vs_days``: children screened against teams
  (``screening.n_teams``) or days (``screening.horizon_days``), with the children awaiting.

When other keys vary too, each of their combinations is one line. Rows that failed are left out
and counted under the chart. Labels are Chinese (``language="zh"``) or English (``"en"``).

Every value shown is a province total (aggregates only). PNG text in Chinese needs a CJK font:
:func:`cjk_font` looks for one (Debian: ``fonts-noto-cjk``); without it the PNGs are not written
(a warning says so) and the HTML, whose text the browser draws, still is.
"""

from __future__ import annotations

import html
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lnplan.sweep import SHARED_SECTIONS

logger = logging.getLogger(__name__)

#: Font families with Chinese glyphs, in order of preference.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)

#: Debian package that gives :data:`CJK_FAMILIES` their first entry.
CJK_FONT_PACKAGE = "fonts-noto-cjk"

_KEY_LABELS = {
    "zh": {
        "sites.p": "示范点数（处）",
        "funding.budget_yuan": "就业保障资金（万元）",
        "screening.n_teams": "筛查专家队伍（支）",
        "screening.horizon_days": "筛查天数（天）",
        "screening.max_trip_days": "每趟最多天数（天）",
        "sites.travel_time_min": "覆盖车程（分钟）",
    },
    "en": {
        "sites.p": "sites",
        "funding.budget_yuan": "employment fund (10,000 yuan)",
        "screening.n_teams": "screening teams",
        "screening.horizon_days": "screening days",
        "screening.max_trip_days": "longest trip (days)",
        "sites.travel_time_min": "reach (minutes by road)",
    },
}


@dataclass(frozen=True)
class Chart:
    """One trade-off chart: x from a varied key, y from a row column."""

    name: str
    x_key: str
    y_column: str
    title: dict[str, str]
    y_label: dict[str, str]
    unit: dict[str, str]
    x_scale: float = 1.0
    marginal: bool = False
    reference_column: str | None = None
    reference_label: dict[str, str] | None = None
    when: tuple[str, str] | None = None  # (column, value) every plotted row must have


CHARTS = (
    Chart(
        "coverage_vs_sites",
        "sites.p",
        "fitness_sites.covered_households",
        {"zh": "健身示范点数量与覆盖的重度残疾人家庭", "en": "Households reached against sites"},
        {"zh": "覆盖家庭（户）", "en": "households within reach"},
        {"zh": "户", "en": "households"},
        marginal=True,
        reference_column="fitness_sites.households",
        reference_label={"zh": "全部家庭", "en": "all households"},
    ),
    Chart(
        "jobs_vs_budget",
        "funding.budget_yuan",
        "employment_fund.objective_value",
        {"zh": "就业保障资金与预计新增就业", "en": "Expected new jobs against the fund"},
        {"zh": "预计新增就业（人）", "en": "expected new jobs (persons)"},
        {"zh": "人", "en": "persons"},
        x_scale=1e-4,
        when=("employment_fund.objective", "jobs"),
    ),
    Chart(
        "screened_vs_teams",
        "screening.n_teams",
        "screening_routes.children_screened",
        {"zh": "筛查队伍数量与完成筛查的儿童", "en": "Children screened against teams"},
        {"zh": "完成筛查的儿童（人）", "en": "children screened (persons)"},
        {"zh": "人", "en": "children"},
        reference_column="screening_routes.children_awaiting",
        reference_label={"zh": "待筛查儿童", "en": "children awaiting screening"},
    ),
    Chart(
        "screened_vs_days",
        "screening.horizon_days",
        "screening_routes.children_screened",
        {"zh": "筛查天数与完成筛查的儿童", "en": "Children screened against days"},
        {"zh": "完成筛查的儿童（人）", "en": "children screened (persons)"},
        {"zh": "人", "en": "children"},
        reference_column="screening_routes.children_awaiting",
        reference_label={"zh": "待筛查儿童", "en": "children awaiting screening"},
    ),
)


def cjk_font() -> str | None:
    """The first installed font family of :data:`CJK_FAMILIES`, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in CJK_FAMILIES if f in installed), None)


def key_label(key: str, language: str) -> str:
    """What officials read for a varied key (the key itself when it has no label)."""
    return _KEY_LABELS.get(language, _KEY_LABELS["zh"]).get(key, key)


def _lines(
    rows: pd.DataFrame, chart: Chart, others: list[str], language: str
) -> list[tuple[str, pd.DataFrame]]:
    if not others:
        return [("", rows.sort_values(chart.x_key))]
    out = []
    for values, part in rows.groupby(others, sort=True, dropna=False):
        vals = values if isinstance(values, tuple) else (values,)
        label = "，" if language == "zh" else ", "
        text = label.join(
            f"{key_label(k, language)} {_fmt_value(k, v)}"
            for k, v in zip(others, vals, strict=True)
        )
        out.append((text, part.sort_values(chart.x_key)))
    return out


def _fmt_value(key: str, value: object) -> str:
    if key == "funding.budget_yuan" and isinstance(value, int | float):
        return f"{value / 1e4:,.0f}"
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def _figure(rows: pd.DataFrame, chart: Chart, others: list[str], language: str, font: str | None):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rc: Any = {
        "font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
        "svg.fonttype": "none",
    }
    with plt.rc_context(rc):
        fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
        unit = chart.unit[language]
        for label, part in _lines(rows, chart, others, language):
            x = part[chart.x_key].to_numpy(dtype=float) * chart.x_scale
            y = part[chart.y_column].to_numpy(dtype=float)
            (line,) = ax.plot(x, y, marker="o", label=label or None)
            if chart.marginal:
                for i in range(1, len(x)):
                    if x[i] == x[i - 1]:
                        continue
                    per = (y[i] - y[i - 1]) / (x[i] - x[i - 1])
                    text = f"+{per:,.0f} {unit}/处" if language == "zh" else f"+{per:,.0f}/site"
                    ax.annotate(
                        text,
                        (x[i], y[i]),
                        textcoords="offset points",
                        xytext=(0, 8),
                        ha="center",
                        fontsize=8,
                        color=line.get_color(),
                    )
        if chart.reference_column and chart.reference_column in rows:
            ref = pd.to_numeric(rows[chart.reference_column], errors="coerce").dropna()
            if not ref.empty and ref.nunique() == 1:
                assert chart.reference_label is not None
                value = float(ref.iloc[0])
                ax.axhline(value, color="#888888", linestyle="--", linewidth=1)
                ax.annotate(
                    f"{chart.reference_label[language]} {value:,.0f} {unit}",
                    (0.01, value),
                    xycoords=("axes fraction", "data"),
                    textcoords="offset points",
                    xytext=(0, 4),
                    fontsize=8,
                    color="#555555",
                )
        ax.set_title(chart.title[language])
        ax.set_xlabel(key_label(chart.x_key, language))
        ax.set_ylabel(chart.y_label[language])
        ax.grid(alpha=0.3)
        xs = rows[chart.x_key].to_numpy(dtype=float) * chart.x_scale
        if np.all(xs == np.round(xs)):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if others:
            ax.legend(fontsize=8)
        fig.tight_layout()
    return fig


def _caption(rows: pd.DataFrame, failed: int, language: str) -> str:
    n = len(rows)
    if language == "zh":
        text = f"共 {n} 个方案，数值为全省合计。"
        if failed:
            text += f"另有 {failed} 个方案运行失败，未画出，原因见 rows.csv 的 error 列。"
        return text
    text = f"{n} scenarios (province totals)."
    if failed:
        text += f" {failed} scenarios failed and are not drawn; see the error column of rows.csv."
    return text


def _table_html(rows: pd.DataFrame, chart: Chart, others: list[str], language: str) -> str:
    cols = [*others, chart.x_key, chart.y_column]
    head = [key_label(c, language) for c in [*others, chart.x_key]] + [chart.y_label[language]]
    body = []
    for rec in rows.sort_values([*others, chart.x_key])[cols].itertuples(index=False):
        cells = [_fmt_value(k, v) for k, v in zip(cols[:-1], rec[:-1], strict=True)]
        cells.append(f"{float(rec[-1]):,.0f}")
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_charts(
    rows: pd.DataFrame, varied: Sequence[str], out_dir: Path | str, *, language: str = "zh"
) -> list[Path]:
    """Write every chart the sweep's rows allow into ``out_dir/charts``; return the files."""
    import matplotlib.pyplot as plt

    language = language if language in ("zh", "en") else "zh"
    folder = Path(out_dir) / "charts"
    font = cjk_font()
    png_ok = font is not None or language == "en"
    written: list[Path] = []
    ok = rows[rows["ok"].astype(bool)] if "ok" in rows else rows
    for chart in CHARTS:
        if chart.x_key not in varied or chart.y_column not in ok.columns:
            continue
        use = ok
        if chart.when is not None:
            col, value = chart.when
            if col not in use or not (use[col] == value).all():
                logger.info(
                    "chart %s needs %s = %r in every row; not drawn", chart.name, col, value
                )
                continue
        use = use[pd.to_numeric(use[chart.y_column], errors="coerce").notna()]
        if use.empty:
            continue
        # Only keys that can change this chart's programme draw lines of their own.
        section = chart.x_key.split(".", 1)[0]
        others = [
            k
            for k in varied
            if k != chart.x_key
            and k.split(".", 1)[0] in (section, *SHARED_SECTIONS)
            and use[k].nunique() > 1
        ]
        use = use.drop_duplicates([*others, chart.x_key])
        failed = int((~rows["ok"].astype(bool)).sum()) if "ok" in rows else 0
        folder.mkdir(parents=True, exist_ok=True)
        fig = _figure(use, chart, others, language, font)
        try:
            svg = io.StringIO()
            fig.savefig(svg, format="svg", metadata={"Date": None})
            if png_ok:
                png = folder / f"{chart.name}.png"
                tmp = png.with_name(f".{png.name}.tmp")
                fig.savefig(tmp, format="png", metadata={"Software": None})
                tmp.replace(png)
                written.append(png)
        finally:
            plt.close(fig)
        svg_text = svg.getvalue()
        svg_text = svg_text[svg_text.find("<svg") :]
        page = _page(chart, language, svg_text, _table_html(use, chart, others, language))
        page = page.replace("{caption}", html.escape(_caption(use, failed, language)))
        path = folder / f"{chart.name}.html"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    if not png_ok and written:
        logger.warning(
            "no font with Chinese characters is installed, so the sweep charts were written as "
            "HTML only; install one (Debian: apt-get install %s) for the PNGs",
            CJK_FONT_PACKAGE,
        )
    return written


def _page(chart: Chart, language: str, svg: str, table: str) -> str:
    title = html.escape(chart.title[language])
    lang = "zh-CN" if language == "zh" else "en"
    fonts = "'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei','PingFang SC',sans-serif"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:{fonts};margin:2em;max-width:60em}}"
        "svg{max-width:100%;height:auto}svg text{font-family:" + fonts + "}"
        "table{border-collapse:collapse;margin-top:1em}td,th{border:1px solid #ccc;"
        "padding:2px 8px;text-align:right}</style></head><body>"
        f"<h1>{title}</h1>{svg}<p>{{caption}}</p>{table}</body></html>\n"
    )
