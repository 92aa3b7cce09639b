"""The README's scenario reference is the text generated from the scenario models."""

from __future__ import annotations

from pathlib import Path

from lnplan.scenario_reference import current_block, readme_block, scenario_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_reference_matches_the_models() -> None:
    block = current_block(README.read_text(encoding="utf-8"))
    assert block is not None, "README.md lacks the scenario-reference markers"
    assert block == readme_block(), (
        "README.md's scenario reference differs from the scenario models; regenerate it with "
        "`.venv/bin/python -m lnplan.scenario_reference README.md`"
    )


def test_every_key_has_a_meaning_and_a_default() -> None:
    rows = [line.split(" | ") for line in scenario_reference().splitlines()[2:]]
    for key, _type, _unit, default, meaning in rows:
        if key.startswith("| **"):
            continue  # a table heading
        assert meaning.strip(" |"), f"{key}: no meaning (give the field a description)"
        assert default.strip(), f"{key}: no default shown"
    keys = {r[0].strip("| `") for r in rows}
    assert {"funding.budget_yuan", "sites.p", "screening.max_iterations", "seed"} <= keys
