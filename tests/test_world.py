"""User layers named in a scenario replace the synthetic ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from lnplan.errors import LayerValidationError
from lnplan.scenario import load_scenario
from lnplan.world import SYNTHETIC_LABEL, build_world

QUICK = Path(__file__).resolve().parents[1] / "scenarios" / "quick.toml"


def test_user_households_and_candidates_replace_synthetic(tmp_path: Path) -> None:
    households = tmp_path / "h.csv"
    households.write_text(
        "编号,经度,纬度,户数\nh1,123.4315,41.8057,2\nh2,121.6147,38.914,1\nh3,124.38,40.13,3\n",
        encoding="gbk",
    )
    candidates = tmp_path / "c.csv"
    candidates.write_text(
        "站号,经度,纬度,区县,名称,容量\ns1,123.43,41.80,和平区,甲站,50\n", encoding="utf-8"
    )
    sc = load_scenario(
        QUICK,
        [
            f'data.households.path="{households}"',
            f'data.candidates.path="{candidates}"',
            'data.candidates.columns={id="站号"}',
        ],
    )
    world = build_world(sc)
    h = world.households
    assert list(h["household_id"]) == ["h1", "h2", "h3"]
    assert list(h["persons"]) == [2, 1, 3]
    assert list(h["city_code"]) == ["210100", "210200", "210600"]
    assert h["township_code"].str.startswith(tuple(h["county_code"])).all()
    assert not h["synthetic"].any()
    c = world.candidates
    assert list(c["candidate_id"]) == ["s1"] and list(c["capacity"]) == [50]
    assert c["county_code"].iloc[0] == "210102"  # 和平区, from the county column
    assert "PARTLY SYNTHETIC" in world.label and "households" not in world.label
    assert world.townships.attrs["synthetic"]


def test_all_synthetic_world_has_full_label() -> None:
    assert build_world(load_scenario(QUICK, [])).label == SYNTHETIC_LABEL


def test_bad_user_layer_lists_its_problems(tmp_path: Path) -> None:
    households = tmp_path / "h.csv"
    households.write_text("id,lon,lat\n1,x,41.8\n", encoding="utf-8")
    sc = load_scenario(QUICK, [f'data.households.path="{households}"'])
    with pytest.raises(LayerValidationError, match="row 2, column 'lon': not a number"):
        build_world(sc)


def test_world_and_synth_do_not_import_each_other() -> None:
    import ast

    import lnplan

    root = Path(lnplan.__file__).parent

    def imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        return found

    assert "lnplan.world" not in imports(root / "geo" / "synth.py")
    assert not {m for m in imports(root / "geo" / "planning_world.py") if m.startswith("lnplan")}
