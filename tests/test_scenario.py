"""Scenario loading: defaults from the targets file, extends, overrides, one test per error."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lnplan.errors import ScenarioError
from lnplan.scenario import (
    Scenario,
    deep_merge,
    load_scenario,
    parse_override,
    scenario_from_dict,
)
from lnplan.targets import load_targets

REPO = Path(__file__).resolve().parents[1]
LIAONING = REPO / "scenarios" / "liaoning_2022.toml"
QUICK = REPO / "scenarios" / "quick.toml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_scenario_takes_targets_from_data() -> None:
    sc = load_scenario(LIAONING)
    targets = load_targets(REPO / "data" / "programs" / "targets_2022.toml")
    assert sc.sites is not None and sc.funding is not None and sc.screening is not None
    assert sc.sites.p == targets.value("fitness_demo_sites") == 80
    assert sc.funding.budget_yuan == targets.value("employment_fund_yuan") == 35_000_000
    assert sc.funding.jobs_target == 7_500
    assert (sc.screening.age_min_years, sc.screening.age_max_years) == (8, 14)
    assert sc.enabled_sections() == ["sites", "funding", "screening"]
    assert sc.screening.day_start == dt.time(8, 0)
    assert sc.targets().items["barrier_free_renovations"].value == 7000


def test_every_target_has_its_sentence() -> None:
    targets = load_targets()
    assert targets.source["status"] == "paraphrase-to-verify"
    for t in targets.items.values():
        assert t.sentence_zh and t.sentence_en
        digits = str(int(t.value)) if float(t.value).is_integer() and t.value > 1 else None
        if digits and len(digits) < 5:
            assert digits in t.sentence_zh, t.key


def test_quick_extends_liaoning() -> None:
    sc = load_scenario(QUICK)
    assert sc.name == "quick"
    assert sc.world.households_scale == 0.01
    assert sc.sites is not None and sc.sites.time_limit_s == 5.0
    assert sc.sites.travel_time_min == 30.0  # inherited
    assert sc.extends == str(LIAONING.resolve())
    assert Path(sc.data.targets).is_absolute()


def test_targets_file_change_changes_defaults(tmp_path: Path) -> None:
    text = (REPO / "data" / "programs" / "targets_2022.toml").read_text(encoding="utf-8")
    targets = write(tmp_path / "t.toml", text.replace("value = 80\n", "value = 12\n"))
    sc = write(
        tmp_path / "s.toml",
        f'name = "t"\n[data]\ntargets = "{targets.name}"\n[sites]\n',
    )
    assert load_scenario(sc).sites.p == 12  # type: ignore[union-attr]


def test_override_values_are_toml_and_validated() -> None:
    sc = load_scenario(
        QUICK,
        [
            "funding.budget_yuan=40000000",
            "screening.base=大连市",
            'output.formats=["csv"]',
            "sites.objective=pmedian",
            "seed=99",
        ],
    )
    assert sc.funding is not None and sc.funding.budget_yuan == 40_000_000
    assert sc.screening is not None and sc.screening.base == "大连市"
    assert sc.output.formats == ["csv"]
    assert sc.sites is not None and sc.sites.objective == "pmedian"
    assert sc.seed == 99


def test_parse_override() -> None:
    assert parse_override("a.b=1.5") == (["a", "b"], 1.5)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("a= text with spaces ") == (["a"], "text with spaces")


def test_deep_merge_tables_merge_values_replace() -> None:
    merged = deep_merge({"a": {"x": 1, "y": [1, 2]}, "b": 1}, {"a": {"y": [3]}, "c": 2})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}


def test_resolved_scenario_round_trips() -> None:
    sc = load_scenario(QUICK)
    again = scenario_from_dict(json.loads(sc.to_json()))
    assert again == sc


def test_programme_sections_absent_are_none(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path / "s.toml", 'name = "bare"\n'))
    assert sc.sites is None and sc.funding is None and sc.screening is None
    assert sc.enabled_sections() == []
    assert sc.maps.min_cell_households == 5


# --- one test per error message -------------------------------------------------------------


def test_error_unknown_key_names_path_and_accepted_keys() -> None:
    with pytest.raises(
        ScenarioError, match=r"funding\.budgt: unknown key; accepted keys here: .*budget_yuan"
    ):
        load_scenario(QUICK, ["funding.budgt=1"])


def test_error_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", 'name = "x"\ncolour = "red"\n')
    with pytest.raises(ScenarioError, match=r"colour: unknown key; accepted keys here: name, "):
        load_scenario(path)


def test_error_wrong_type() -> None:
    with pytest.raises(ScenarioError, match=r"sites\.p: Input should be a valid integer.*'abc'"):
        load_scenario(QUICK, ["sites.p=abc"])


def test_error_impossible_value() -> None:
    with pytest.raises(ScenarioError, match=r"world\.households_scale: .*greater than 0.*-1"):
        load_scenario(QUICK, ["world.households_scale=-1"])


def test_error_budget_not_multiple_of_unit() -> None:
    with pytest.raises(ScenarioError, match=r"funding\.budget_yuan: 12345 is not a multiple"):
        load_scenario(QUICK, ["funding.budget_yuan=12345"])


def test_error_privacy_minimum_cannot_be_lowered() -> None:
    with pytest.raises(
        ScenarioError, match=r"maps\.min_cell_households: .*greater than or equal to 5"
    ):
        load_scenario(QUICK, ["maps.min_cell_households=3"])


def test_error_literal_lists_accepted_values() -> None:
    with pytest.raises(ScenarioError, match=r"sites\.objective: .*'mclp', 'pmedian', 'pcenter'"):
        load_scenario(QUICK, ["sites.objective=best"])


def test_error_cross_field_rule_names_field() -> None:
    with pytest.raises(ScenarioError, match=r"screening\.day_end: 17:00:00 must be after"):
        load_scenario(QUICK, ["screening.day_start=18:00:00"])


def test_error_missing_data_file() -> None:
    with pytest.raises(
        ScenarioError, match=r"data\.priority_counties: Path does not point to a file"
    ):
        load_scenario(QUICK, ["data.priority_counties=no/such/file.csv"])


def test_error_bad_override_syntax() -> None:
    with pytest.raises(ScenarioError, match=r"--set 'funding\.budget_yuan': expected KEY=VALUE"):
        load_scenario(QUICK, ["funding.budget_yuan"])


def test_error_bad_override_key() -> None:
    with pytest.raises(ScenarioError, match=r"the key must be a dotted path"):
        load_scenario(QUICK, ["funding..x=1"])


def test_error_override_into_a_value() -> None:
    with pytest.raises(ScenarioError, match=r"seed is a value \(7\), not a table"):
        load_scenario(QUICK, ["seed.x=1"])


def test_error_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", 'name = "a"\nextends = "b.toml"\n')
    write(tmp_path / "b.toml", 'name = "b"\nextends = "a.toml"\n')
    with pytest.raises(
        ScenarioError,
        match=r"extends: cycle between scenario files: .*a\.toml -> .*b\.toml -> .*a\.toml",
    ):
        load_scenario(tmp_path / "a.toml")


def test_error_extends_missing_base(tmp_path: Path) -> None:
    path = write(tmp_path / "a.toml", 'name = "a"\nextends = "nowhere.toml"\n')
    with pytest.raises(ScenarioError, match=r"extends: base scenario not found"):
        load_scenario(path)


def test_error_not_toml(tmp_path: Path) -> None:
    path = write(tmp_path / "a.toml", "name = \n")
    with pytest.raises(ScenarioError, match=r"not valid TOML"):
        load_scenario(path)


def test_error_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"scenario file not found"):
        load_scenario(tmp_path / "none.toml")


def test_error_reports_every_problem() -> None:
    with pytest.raises(ScenarioError, match=r"3 problems") as info:
        load_scenario(QUICK, ["sites.p=0", "seed=-1", "world.parks_per_county=x"])
    text = str(info.value)
    assert "sites.p" in text and "seed" in text and "world.parks_per_county" in text


def test_direct_validation_fills_targets() -> None:
    sc = Scenario.model_validate({"name": "x", "funding": {"objective": "maxmin"}})
    assert sc.funding is not None and sc.funding.budget_yuan == 35_000_000


def test_error_missing_targets_file_names_data_targets(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", 'name = "x"\n[data]\ntargets = "none.toml"\n[sites]\n')
    with pytest.raises(
        ScenarioError, match=r"\n  data\.targets: targets file not found: .*none\.toml"
    ):
        load_scenario(path)
