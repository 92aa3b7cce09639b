"""The programme facts in data/programs: complete, consistent, and clear errors when broken."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lnplan.errors import InputError
from lnplan.geo import boundaries
from lnplan.targets import (
    PROGRAMS_DIR,
    load_city_population,
    load_county_terrain,
    load_priority_counties,
    load_targets,
    load_townships,
)


def test_announced_figures() -> None:
    t = load_targets()
    expected = {
        "fitness_demo_sites": 80,
        "home_rehab_fitness_households": 1600,
        "barrier_free_renovations": 7000,
        "five_ones_households": 1000,
        "employment_fund_yuan": 35_000_000,
        "new_jobs_per_year": 7500,
        "trainees_per_year": 15_000,
        "children_rehab_services": 6200,
        "screening_age_min_years": 8,
        "screening_age_max_years": 14,
        "basic_rehab_service_rate": 0.85,
        "assistive_device_service_rate": 0.85,
    }
    assert {k: t.value(k) for k in expected} == expected


def test_reference_files_match_the_boundaries() -> None:
    counties = boundaries.counties()
    codes = set(counties["code"])
    prio = load_priority_counties()
    assert len(prio) == 15 and set(prio["county_code"]) <= codes
    names = counties.set_index("code")["name"]
    assert (prio["county"] == prio["county_code"].map(names)).all()
    assert set(load_county_terrain()["county_code"]) <= codes
    towns = load_townships()
    assert len(towns) == 1354 and set(towns["county_code"]) == codes
    pop = load_city_population()
    assert set(pop["city_code"]) == set(counties["city_code"])
    assert 42_500_000 < pop["population_2020"].sum() < 42_700_000


def test_missing_target_value(tmp_path: Path) -> None:
    text = (PROGRAMS_DIR / "targets_2022.toml").read_text(encoding="utf-8")
    bad = tmp_path / "t.toml"
    bad.write_text(text.replace("value = 80\n", 'value = "eighty"\n'), encoding="utf-8")
    with pytest.raises(InputError, match=r"targets\.fitness_demo_sites\.value: expected a number"):
        load_targets(bad)


def test_missing_required_target(tmp_path: Path) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text(
        '[targets.x]\nvalue = 1\nunit = "u"\nsentence_zh = "句"\nsentence_en = "s"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"missing target\(s\) fitness_demo_sites"):
        load_targets(bad)


def test_unknown_target_key_lists_known() -> None:
    with pytest.raises(InputError, match=r"no target 'sites'; the file has .*fitness_demo_sites"):
        load_targets().value("sites")


def test_bad_county_code(tmp_path: Path) -> None:
    bad = tmp_path / "p.csv"
    pd.DataFrame({"county_code": ["210123", "31011"], "county": ["康平县", "x"]}).to_csv(
        bad, index=False
    )
    with pytest.raises(InputError, match=r"row 3, column 'county_code': '31011' is not a 6-digit"):
        load_priority_counties(bad)


def test_bad_population(tmp_path: Path) -> None:
    bad = tmp_path / "c.csv"
    bad.write_text("city_code,city,population_2020\n210100,沈阳市,-3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2, column 'population_2020': expected a positive"):
        load_city_population(bad)
