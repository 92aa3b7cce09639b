"""Words and numbers for officials: the sentences of the summary panels, in Chinese or English.

Every figure a shared map, index page or workbook shows goes through these helpers, so that
numbers carry thousands separators, money is in 万元 (or million yuan in English) and shares in %.
The solver's words (status, objective, bound) never appear in these sentences: :func:`quality`
turns a model's result record into a plain sentence, and :func:`method_note` puts the engine and
the proven gap into the small "方法说明" note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

Language = Literal["zh", "en"]

#: Labels that appear on every map and page, by language.
WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "method": "方法说明",
        "legend": "图例",
        "layers": "图层",
        "summary": "摘要",
        "basemap": "底图",
        "province": "省界",
        "cities": "市界",
        "city_names": "市名",
        "counties": "县界",
        "sites": "健身示范点",
        "fund": "就业保障金",
        "routes": "筛查路线",
        "overview": "总览",
        "straight": "路线为站点之间的直线连接，不是实际道路。",
        "synthetic": "演示数据（合成），非真实数据",
    },
    "en": {
        "method": "Method note",
        "legend": "Legend",
        "layers": "Layers",
        "summary": "Summary",
        "basemap": "Basemap",
        "province": "Province outline",
        "cities": "City outlines",
        "city_names": "City names",
        "counties": "County outlines",
        "sites": "Fitness demonstration sites",
        "fund": "Employment security fund",
        "routes": "Screening tours",
        "overview": "Overview",
        "straight": "Lines join stops in a straight line; they are not roads.",
        "synthetic": "Synthetic demo data, not real",
    },
}


def word(key: str, lang: Language) -> str:
    """A fixed label in ``lang``."""
    return WORDS[lang][key]


def count(n: Any) -> str:
    """A whole number with thousands separators: ``266,529``."""
    return f"{round(float(n)):,}"


def pct(share: float, digits: int = 1) -> str:
    """A share (0..1) in percent: ``89.4%``."""
    return f"{100.0 * float(share):.{digits}f}%"


def money(yuan: float, lang: Language) -> str:
    """An amount of money: ``3,500 万元`` (Chinese) or ``35.00 million yuan`` (English)."""
    if lang == "zh":
        wan = float(yuan) / 1e4
        return f"{wan:,.0f} 万元" if abs(wan) >= 100 else f"{wan:,.1f} 万元"
    return f"{float(yuan) / 1e6:,.2f} million yuan"


def yuan(amount: float, lang: Language) -> str:
    """An amount in yuan: ``1,250 元``."""
    return f"{count(amount)} 元" if lang == "zh" else f"{count(amount)} yuan"


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def record(summary: Mapping[str, Any], models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The first model record of a programme, or what its summary says of the same fields."""
    for rec in models.values():
        return dict(rec)
    return {k: summary.get(k) for k in ("status", "gap", "bound", "engine", "proof")}


def quality(rec: Mapping[str, Any], lang: Language) -> str:
    """How good the answer is, in a plain sentence, from a model record.

    ``optimal`` with a zero gap is "proven best"; any answer with a finite proven gap is "within
    X% of the proven best"; without a bound the answer is said to be not proven best. No solver
    word appears.
    """
    status = str(rec.get("status") or "")
    gap = _finite(rec.get("gap"))
    zh = lang == "zh"
    if status == "no_solution_in_limit":
        return (
            "在计算时限内未找到方案，请延长计算时限后重算。"
            if zh
            else "No plan was found within the time limit; raise the time limit and re-run."
        )
    if status == "infeasible":
        return (
            "数据表明不存在满足全部规则的方案。"
            if zh
            else "The data show that no plan meets every rule."
        )
    if status == "optimal" and (gap is None or gap == 0.0):
        return "已证明是最优方案。" if zh else "Proven to be the best plan."
    if gap is not None and status in ("optimal", "feasible"):
        # "不超过" must hold: round the gap up to the shown 0.1%.
        text = f"{max(math.ceil(1000 * max(gap, 0.0) - 1e-9), 1) / 10:.1f}%"
        return (
            f"与可证明的最优方案相差不超过 {text}。"
            if zh
            else f"Within {text} of the proven best plan."
        )
    if status == "feasible":
        return (
            "方案满足全部规则，未证明最优。"
            if zh
            else "The plan meets every rule; it is not proven to be the best."
        )
    return "未证明最优。" if zh else "Not proven to be the best."


def method_note(rec: Mapping[str, Any], lang: Language) -> str:
    """The small method note: engine, proof and gap (these words stay out of the summary)."""
    parts = []
    engine = rec.get("engine")
    if engine:
        parts.append(("求解引擎：" if lang == "zh" else "Engine: ") + str(engine))
    proof = rec.get("proof")
    if proof:
        parts.append(("下界来源：" if lang == "zh" else "Bound from: ") + str(proof))
    gap = _finite(rec.get("gap"))
    if gap is not None:
        parts.append(("已证明差距：" if lang == "zh" else "Proven gap: ") + f"{100 * gap:.2f}%")
    elif rec.get("status") in ("feasible", "optimal"):
        parts.append("无可证明的界" if lang == "zh" else "no proven bound")
    return "；".join(parts) if lang == "zh" else "; ".join(parts)


# --- the three programmes' sentences ------------------------------------------------------------


def sites_sentences(
    summary: Mapping[str, Any], rec: Mapping[str, Any], lang: Language
) -> list[str]:
    """Key sentences of the fitness-sites result."""
    zh = lang == "zh"
    n_new = int(summary.get("sites", 0))
    n_old = int(summary.get("existing_sites", 0))
    hh = int(summary.get("households", 0))
    cov = int(summary.get("covered_households", 0))
    share = cov / hh if hh else 0.0
    reach = str(summary.get("reach", ""))
    reach_zh = reach.replace(" min by road", " 分钟车程").replace(
        " km straight line", " 公里直线距离"
    )
    out = []
    if zh:
        head = f"{count(n_new)} 个新示范点"
        if n_old:
            head += f"（另有 {count(n_old)} 个现有点）"
        out.append(f"{head}：{reach_zh}内覆盖 {count(cov)} 户（{pct(share)}）。")
        out.append(f"全省需服务的重度残疾人家庭共 {count(hh)} 户，未覆盖 {count(hh - cov)} 户。")
    else:
        head = f"{count(n_new)} new demonstration sites"
        if n_old:
            head += f" (plus {count(n_old)} existing)"
        out.append(f"{head}: {count(cov)} households ({pct(share)}) within {reach}.")
        out.append(f"{count(hh)} households to serve in all; {count(hh - cov)} not within reach.")
    out.append(quality(rec, lang))
    return out


def fund_sentences(summary: Mapping[str, Any], rec: Mapping[str, Any], lang: Language) -> list[str]:
    """Key sentences of the employment-fund result."""
    budget = float(summary.get("budget_yuan", 0))
    n = int(summary.get("priority_counties", 0))
    how = {
        "proportional": ("，按各县需求的比例分配", " in proportion to need"),
        "jobs": ("，按预期新增就业最多的原则分配", " for the most expected new jobs"),
    }.get(str(summary.get("objective")), ("", ""))
    if lang == "zh":
        out = [f"{money(budget, lang)}就业保障金分配给 {count(n)} 个重点县（区）{how[0]}。"]
    else:
        out = [
            f"{money(budget, lang)} of employment security fund shared among {count(n)} priority "
            f"counties{how[1]}."
        ]
    out.append(quality(rec, lang))
    return out


def routes_sentences(
    summary: Mapping[str, Any], rec: Mapping[str, Any], lang: Language
) -> list[str]:
    """Key sentences of the screening-tours result.

    The quality sentence compares the children screened with the proven upper bound on what the
    teams could screen (capacity or a relaxation), when the programme reports one: that is the
    figure an official asks about, not the engine's travel-time gap.
    """
    teams = int(summary.get("teams", 0))
    days = int(summary.get("working_days", summary.get("horizon_days", 0)))
    done = int(summary.get("children_screened", 0))
    waiting = int(summary.get("children_awaiting", 0))
    towns = int(summary.get("townships_visited", 0))
    trips = int(summary.get("trips", 0))
    km = float(summary.get("km_driven", 0.0))
    share = done / waiting if waiting else 0.0
    base = str(summary.get("bases", summary.get("base", "")))
    first, last = summary.get("first_date"), summary.get("last_date")
    needed, available = summary.get("team_days_needed"), summary.get("team_days_available")
    bound = _finite(summary.get("children_upper_bound"))
    if lang == "zh":
        when = (
            f"{first} 至 {last} 的 {count(days)} 个工作日内"
            if first and last
            else (f"{count(days)} 个工作日内")
        )
        out = [
            f"{count(teams)} 支专家队从{base}出发，{when}分 {count(trips)} 趟走访 "
            f"{count(towns)} 个乡镇，筛查 {count(done)} 名儿童（占待筛查 {count(waiting)} "
            f"人的 {pct(share)}）。",
            f"共行驶约 {count(km)} 公里。",
        ]
        if summary.get("gathering_points") is not None:
            out.append(
                f"其中 {count(int(summary.get('gathering_points', 0)))} 个集中筛查点（乡镇卫生院）"
                f"还筛查了 {count(int(summary.get('townships_gathered', 0)))} 个邻近乡镇"
                f"（{float(summary.get('gather_km', 0)):g} 公里内）由家庭送来的儿童，"
                f"共有 {count(int(summary.get('townships_served', 0)))} 个乡镇的儿童得到筛查。"
            )
        if summary.get("team_days_blocked"):
            out.append(
                f"各队因休假或其他任务不能出队共 {count(int(summary['team_days_blocked']))} "
                "个队·工作日，已从可用天数中扣除。"
            )
        if summary.get("visiting_hours"):
            out.append(f"乡镇卫生院接待时间：{summary['visiting_hours']}，筛查均在接待时间内开始。")
        if needed is not None and available is not None:
            out.append(
                f"筛查全部儿童约需 {count(needed)} 个队·工作日，本方案可用 {count(available)} 个。"
            )
        if bound is not None and bound > 0:
            out.append(
                f"在现有队伍和日期下最多可筛查约 {count(bound)} 名（可证明的上限），"
                f"本方案达到该上限的 {pct(done / bound)}。"
            )
            return out
    else:
        when = (
            f"from {first} to {last} ({count(days)} working days)"
            if first and last
            else (f"in {count(days)} working days")
        )
        out = [
            f"{count(teams)} expert teams from {base} make {count(trips)} trips {when} to "
            f"{count(towns)} townships and screen {count(done)} children "
            f"({pct(share)} of {count(waiting)} waiting).",
            f"About {count(km)} km driven.",
        ]
        if summary.get("gathering_points") is not None:
            out.append(
                f"{count(int(summary.get('gathering_points', 0)))} of these township hospitals "
                f"also screen the children of {count(int(summary.get('townships_gathered', 0)))} "
                f"nearby townships (within {float(summary.get('gather_km', 0)):g} km), brought by "
                f"their families; children of {count(int(summary.get('townships_served', 0)))} "
                "townships are screened."
            )
        if summary.get("team_days_blocked"):
            out.append(
                f"{count(int(summary['team_days_blocked']))} team-days are blocked (leave, other "
                "duties) and not counted as available."
            )
        if summary.get("visiting_hours"):
            out.append(f"Visits start within the hospitals' hours ({summary['visiting_hours']}).")
        if needed is not None and available is not None:
            out.append(
                f"Screening every child takes about {count(needed)} team-days; the plan has "
                f"{count(available)}."
            )
        if bound is not None and bound > 0:
            out.append(
                f"These teams and dates can screen at most about {count(bound)} children (a "
                f"proven limit); the plan reaches {pct(done / bound)} of it."
            )
            return out
    out.append(quality(rec, lang))
    return out
