"""Sentences for officials: honest about each status, numbers formatted, no solver words."""

from __future__ import annotations

import math

import pytest

from lnplan.maps.text import count, method_note, money, pct, quality, sites_sentences

SOLVER_WORDS = ("status", "objective", "bound", "optimal", "feasible", "gap", "infeasible")


def test_numbers_money_and_shares() -> None:
    assert count(266529) == "266,529"
    assert pct(0.894) == "89.4%"
    assert money(35_000_000, "zh") == "3,500 万元"
    assert money(1_250_000, "zh") == "125 万元"
    assert money(456_000, "zh") == "45.6 万元"
    assert money(35_000_000, "en") == "35.00 million yuan"


@pytest.mark.parametrize(
    ("rec", "zh", "en"),
    [
        ({"status": "optimal", "gap": 0.0}, "已证明是最优方案", "Proven to be the best"),
        ({"status": "feasible", "gap": 0.0125}, "相差不超过 1.3%", "Within 1.3%"),
        ({"status": "feasible", "gap": 0.0121}, "相差不超过 1.3%", "Within 1.3%"),
        ({"status": "feasible", "gap": math.inf}, "未证明最优", "not proven"),
        ({"status": "feasible", "gap": None}, "未证明最优", "not proven"),
        ({"status": "no_solution_in_limit", "gap": None}, "延长计算时限", "raise the time limit"),
        ({"status": "infeasible", "gap": None}, "不存在", "no plan meets"),
    ],
)
def test_quality_sentence_for_each_status(rec: dict, zh: str, en: str) -> None:
    assert zh in quality(rec, "zh")
    assert en in quality(rec, "en")
    for word in SOLVER_WORDS:
        assert word not in quality(rec, "en").lower().replace("feasible", "")


def test_no_bound_claim_without_a_bound() -> None:
    assert "相差不超过" not in quality({"status": "feasible", "gap": math.nan}, "zh")


def test_method_note_keeps_engine_and_gap() -> None:
    note = method_note({"engine": "HiGHS", "gap": 0.0125, "status": "feasible"}, "zh")
    assert "HiGHS" in note and "1.25%" in note


def test_sites_sentences() -> None:
    summary = {"sites": 80, "households": 298_000, "covered_households": 266_529,
               "reach": "30 min by road"}  # fmt: skip
    text = sites_sentences(summary, {"status": "feasible", "gap": 0.013}, "zh")
    assert text[0] == "80 个新示范点：30 分钟车程内覆盖 266,529 户（89.4%）。"
    assert text[-1] == "与可证明的最优方案相差不超过 1.3%。"


def test_routes_sentences_give_dates_need_and_the_bound_on_children() -> None:
    from lnplan.maps.text import routes_sentences

    summary = {
        "teams": 8, "working_days": 30, "first_date": "2023-09-04", "last_date": "2023-10-19",
        "children_screened": 4647, "children_awaiting": 9529, "townships_visited": 480,
        "trips": 41, "km_driven": 37526.7, "bases": "沈阳市残疾人康复中心",
        "team_days_needed": 217, "team_days_available": 240, "children_upper_bound": 9461,
    }  # fmt: skip
    rec = {"status": "feasible", "gap": 1.0, "bound": 0.0}
    zh = " ".join(routes_sentences(summary, rec, "zh"))
    assert "2023-09-04 至 2023-10-19 的 30 个工作日内" in zh
    assert "217 个队·工作日" in zh and "240 个" in zh
    assert "9,461 名" in zh and "49.1%" in zh
    assert "100.0%" not in zh  # the engine's travel-time gap is not the official's question
    en = " ".join(routes_sentences(summary, rec, "en"))
    assert "217 team-days" in en and "9,461" in en
    # Without a bound on children, the engine's quality sentence stands.
    del summary["children_upper_bound"]
    assert routes_sentences(summary, rec, "zh")[-1] == quality(rec, "zh")


def test_routes_sentences_tell_gathering_blocked_days_and_visiting_hours() -> None:
    from lnplan.maps.text import routes_sentences

    summary = {
        "teams": 2, "working_days": 5, "children_screened": 131, "children_awaiting": 131,
        "townships_visited": 3, "trips": 1, "km_driven": 47.6, "bases": "沈阳市残疾人康复中心",
        "gather_km": 6.0, "gathering_points": 2, "townships_gathered": 22,
        "townships_served": 25, "team_days_blocked": 3, "visiting_hours": "08:00-11:30",
    }  # fmt: skip
    rec = {"status": "feasible", "gap": 1.0, "bound": 0.0}
    zh = " ".join(routes_sentences(summary, rec, "zh"))
    assert "2 个集中筛查点（乡镇卫生院）还筛查了 22 个邻近乡镇（6 公里内）" in zh
    assert "25 个乡镇的儿童得到筛查" in zh
    assert "3 个队·工作日" in zh and "接待时间：08:00-11:30" in zh
    en = " ".join(routes_sentences(summary, rec, "en"))
    assert "22 nearby townships (within 6 km)" in en and "3 team-days are blocked" in en
