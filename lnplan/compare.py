"""What changed between two runs: sites, yuan per county, coverage per city, teams' work.

:func:`compare` takes two run folders (or two :class:`lnplan.api.Plan`) and returns a
:class:`Comparison` of DataFrames:

``sites_added``, ``sites_removed``
    Sites in B and not in A, and the reverse (by ``candidate_id``), with their county and city.
``fund_by_county``
    ``amount_a_yuan``, ``amount_b_yuan`` and ``change_yuan`` per priority county.
``coverage_by_city``
    Covered households and coverage rate in A and B per city, and the change.
``teams``
    Children screened, days away and townships visited per team in A and B, and the change.
``townships_moved``
    Townships visited in both runs by a different team or on a different trip.

:meth:`Comparison.write` writes ``comparison.xlsx`` (one sheet per table) and ``comparison.html``
(a map: counties coloured by the yuan moved, sites added and removed). Both are for sharing: they
hold only what the runs' shareable tables hold (aggregates, no households).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from lnplan.errors import InputError

if TYPE_CHECKING:
    from lnplan.api import Plan

__all__ = ["Comparison", "compare"]

#: Columns read as text (codes keep their leading digits).
_TEXT_COLUMNS = ("candidate_id", "county_code", "city_code", "township_code", "code")


@dataclass(frozen=True)
class RunTables:
    """The tables and layers of one run that a comparison reads."""

    name: str
    tables: Mapping[str, Mapping[str, pd.DataFrame]]
    layers: Mapping[str, Mapping[str, gpd.GeoDataFrame]] = field(default_factory=dict)

    def table(self, programme: str, name: str) -> pd.DataFrame | None:
        return self.tables.get(programme, {}).get(name)


def _read_table(folder: Path, name: str) -> pd.DataFrame | None:
    dtype = dict.fromkeys(_TEXT_COLUMNS, str)
    csv, xlsx = folder / f"{name}.csv", folder / f"{name}.xlsx"
    if csv.is_file():
        return pd.read_csv(csv, dtype=dtype, encoding="utf-8")
    if xlsx.is_file():
        return pd.read_excel(xlsx, dtype=dtype)
    return None


def _read_layers(path: Path, names: tuple[str, ...]) -> dict[str, gpd.GeoDataFrame]:
    import pyogrio

    if not path.is_file():
        return {}
    have = {str(n) for n, _ in pyogrio.list_layers(path)}
    return {n: gpd.read_file(path, layer=n) for n in names if n in have}


_WANTED = {
    "fitness_sites": ("sites", "coverage_by_city"),
    "employment_fund": ("allocation",),
    "screening_routes": ("teams", "schedule"),
}
_SITE_LAYERS = ("sites", "existing_sites")


def run_tables(run: str | Path | Plan) -> RunTables:
    """The tables a comparison needs, from a run folder or a :class:`lnplan.api.Plan`."""
    from lnplan.api import Plan

    if isinstance(run, Plan):
        name = str(run.out_dir) if run.out_dir is not None else run.scenario.name
        return RunTables(
            name=name,
            tables={v.name: dict(v.output.tables) for v in run.views.values()},
            layers={v.name: dict(v.output.layers) for v in run.views.values()},
        )
    folder = Path(run)
    if not (folder / "run.json").is_file():
        raise InputError(
            f"{folder}: not an lnplan run folder (no run.json); give a folder written by "
            "`lnplan run --out` or lnplan.run(..., out=...)"
        )
    tables: dict[str, dict[str, pd.DataFrame]] = {}
    layers: dict[str, dict[str, gpd.GeoDataFrame]] = {}
    for programme, names in _WANTED.items():
        sub = folder / programme
        if not sub.is_dir():
            continue
        found = {n: t for n in names if (t := _read_table(sub, n)) is not None}
        tables[programme] = found
        if programme == "fitness_sites":
            layers[programme] = _read_layers(sub / f"{programme}.gpkg", _SITE_LAYERS)
    return RunTables(name=str(folder), tables=tables, layers=layers)


@dataclass(frozen=True)
class Comparison:
    """Differences between run A and run B (see the module docstring for each table)."""

    a: str
    b: str
    sites_added: pd.DataFrame
    sites_removed: pd.DataFrame
    sites_kept: int
    fund_by_county: pd.DataFrame
    coverage_by_city: pd.DataFrame
    teams: pd.DataFrame
    townships_moved: pd.DataFrame
    site_points: gpd.GeoDataFrame | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """Headline figures: sites added/removed/kept, yuan moved, coverage change, townships
        moved between teams."""
        fund = self.fund_by_county
        cov = self.coverage_by_city
        return {
            "sites_added": len(self.sites_added),
            "sites_removed": len(self.sites_removed),
            "sites_kept": self.sites_kept,
            "yuan_added": int(fund["change_yuan"].clip(lower=0).sum()) if len(fund) else 0,
            "yuan_removed": int(-fund["change_yuan"].clip(upper=0).sum()) if len(fund) else 0,
            "counties_changed": int((fund["change_yuan"] != 0).sum()) if len(fund) else 0,
            "covered_households_change": int(cov["covered_change"].sum()) if len(cov) else 0,
            "townships_moved": len(self.townships_moved),
        }

    def sentences(self) -> list[str]:
        """The summary in Chinese sentences with units (for officials and the terminal)."""
        s = self.summary
        return [
            f"健身示范点：新增 {s['sites_added']} 个，撤销 {s['sites_removed']} 个，"
            f"保留 {s['sites_kept']} 个。",
            f"就业保障金：{s['counties_changed']} 个县的金额变化，共增加 "
            f"{s['yuan_added'] / 10_000:,.0f} 万元、减少 {s['yuan_removed'] / 10_000:,.0f} 万元。",
            f"覆盖户数变化：{s['covered_households_change']:+,} 户。",
            f"筛查：{s['townships_moved']} 个乡镇换了医疗队或行程。",
        ]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table, by sheet name."""
        return {
            "sites_added": self.sites_added,
            "sites_removed": self.sites_removed,
            "fund_by_county": self.fund_by_county,
            "coverage_by_city": self.coverage_by_city,
            "teams": self.teams,
            "townships_moved": self.townships_moved,
        }

    def page(self, maps: Any = None) -> Any:
        """The map of differences as a :class:`lnplan.maps.page.MapPage`: counties coloured by
        the change in yuan, sites added and removed. ``maps`` is a scenario's maps section
        (tiles, language); by default the plain offline basemap in Chinese."""
        from lnplan.geo import boundaries
        from lnplan.maps.page import MapPage, basemap_layers, display_outlines, esc
        from lnplan.maps.text import money

        outlines = display_outlines(boundaries.counties())
        page = MapPage(
            title=f"比较 {self.a} → {self.b}",
            lang="zh",
            offline=True if maps is None else bool(maps.offline_assets),
            sentences=self.sentences(),
            bounds=tuple(outlines.province.total_bounds),
        )
        basemap_layers(page, outlines)
        fund = self.fund_by_county
        if len(fund):
            shapes = outlines.counties[["code", "geometry"]].merge(
                fund[["county_code", "county", "change_yuan"]],
                left_on="code",
                right_on="county_code",
            )
            change = shapes["change_yuan"].to_numpy(dtype=float)
            colours = ["#d6604d", "#f7f7f7", "#4393c3"]  # less, unchanged, more
            page.add(
                "资金",
                "资金变化（万元）",
                shapes[["geometry"]],
                styles=[
                    {"color": "#888", "weight": 0.6, "fillColor": c, "fillOpacity": 0.75}
                    for c in colours
                ],
                style_index=[0 if v < 0 else (2 if v > 0 else 1) for v in change],
                popup=[
                    f"<b>{esc(n)}</b><br>{money(v, 'zh')}"
                    for n, v in zip(shapes["county"], change, strict=True)
                ],
            )
            page.legend("资金变化", list(zip(colours, ["减少", "不变", "增加"], strict=True)))
        if self.site_points is not None:
            for change_kind, label, colour in (
                ("added", "新增示范点", "#1b7837"),
                ("removed", "撤销示范点", "#b2182b"),
            ):
                pts = self.site_points[self.site_points["change"] == change_kind]
                if len(pts):
                    page.add(
                        "示范点",
                        label,
                        pts[[pts.geometry.name]].to_crs("EPSG:4326"),
                        styles=[
                            {
                                "radius": 6,
                                "color": "#fff",
                                "weight": 1,
                                "fillColor": colour,
                                "fillOpacity": 0.9,
                            }
                        ],
                    )
                    page.legend("", [(colour, label)], kind="dot")
        return page

    def map(self, maps: Any = None) -> Any:
        """The map of differences as a folium.Map (shows inline in Jupyter)."""
        return self.page(maps).folium_map()

    def write(self, out_dir: str | Path, maps: Any = None) -> list[Path]:
        """Write ``comparison.xlsx`` and ``comparison.html`` into ``out_dir`` (created)."""
        from lnplan.report.io import atomic_write

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)

        def workbook(tmp: Path) -> None:
            with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
                pd.DataFrame({"摘要 summary": self.sentences()}).to_excel(
                    xl, sheet_name="summary", index=False
                )
                for name, table in self.tables().items():
                    table.to_excel(xl, sheet_name=name[:31], index=False)

        xlsx = atomic_write(out / "comparison.xlsx", workbook)
        html = self.page(maps).save(out / "comparison.html")
        return [Path(xlsx), Path(html)]


def compare(
    a: str | Path | Plan, b: str | Path | Plan, out: str | Path | None = None
) -> Comparison:
    """Compare run A with run B (run folders or plans); with ``out``, also write the files.

    Raises
    ------
    InputError
        A folder is not an lnplan run folder.
    """
    comparison = compare_tables(run_tables(a), run_tables(b))
    if out is not None:
        comparison.write(out)
    return comparison


def compare_tables(ta: RunTables, tb: RunTables) -> Comparison:
    """The :class:`Comparison` of two runs' tables."""
    added, removed, kept, points = _compare_sites(ta, tb)
    return Comparison(
        a=ta.name,
        b=tb.name,
        sites_added=added,
        sites_removed=removed,
        sites_kept=kept,
        fund_by_county=_compare_fund(ta, tb),
        coverage_by_city=_compare_coverage(ta, tb),
        teams=_compare_teams(ta, tb),
        townships_moved=_compare_townships(ta, tb),
        site_points=points,
    )


def _compare_sites(
    ta: RunTables, tb: RunTables
) -> tuple[pd.DataFrame, pd.DataFrame, int, gpd.GeoDataFrame | None]:
    sa, sb = ta.table("fitness_sites", "sites"), tb.table("fitness_sites", "sites")
    cols = ["candidate_id", "name", "kind", "county_code", "city_code"]
    if sa is None or sb is None:
        empty = pd.DataFrame(columns=cols)
        return empty, empty.copy(), 0, None
    sa = sa.assign(candidate_id=sa["candidate_id"].astype(str))
    sb = sb.assign(candidate_id=sb["candidate_id"].astype(str))
    ida, idb = set(sa["candidate_id"]), set(sb["candidate_id"])
    keep = [c for c in cols if c in sa.columns and c in sb.columns]
    added = sb[~sb["candidate_id"].isin(ida)][keep].reset_index(drop=True)
    removed = sa[~sa["candidate_id"].isin(idb)][keep].reset_index(drop=True)
    frames = [
        layer[["candidate_id", "geometry"]].to_crs("EPSG:4326")
        for t in (ta, tb)
        for layer in t.layers.get("fitness_sites", {}).values()
        if "candidate_id" in layer.columns
    ]
    points = None
    if frames:
        geo = pd.concat(frames, ignore_index=True)
        geo["candidate_id"] = geo["candidate_id"].astype(str)
        geo = geo.drop_duplicates("candidate_id")
        rows = pd.concat(
            [added.assign(change="added"), removed.assign(change="removed")], ignore_index=True
        )
        points = gpd.GeoDataFrame(rows.merge(geo, on="candidate_id"), crs="EPSG:4326")
    return added, removed, len(ida & idb), points


def _compare_fund(ta: RunTables, tb: RunTables) -> pd.DataFrame:
    fa, fb = ta.table("employment_fund", "allocation"), tb.table("employment_fund", "allocation")
    cols = ["county_code", "county", "city", "amount_a_yuan", "amount_b_yuan", "change_yuan"]
    if fa is None or fb is None:
        return pd.DataFrame(columns=cols)
    keys = ["county_code", "county", "city"]
    merged = fa[[*keys, "amount_yuan"]].merge(
        fb[[*keys, "amount_yuan"]], on=keys, how="outer", suffixes=("_a", "_b")
    )
    merged = merged.rename(
        columns={"amount_yuan_a": "amount_a_yuan", "amount_yuan_b": "amount_b_yuan"}
    )
    for c in ("amount_a_yuan", "amount_b_yuan"):
        merged[c] = merged[c].fillna(0).astype("int64")
    merged["change_yuan"] = merged["amount_b_yuan"] - merged["amount_a_yuan"]
    return merged[cols].sort_values("county_code").reset_index(drop=True)


def _compare_coverage(ta: RunTables, tb: RunTables) -> pd.DataFrame:
    ca = ta.table("fitness_sites", "coverage_by_city")
    cb = tb.table("fitness_sites", "coverage_by_city")
    cols = ["city_code", "city", "covered_a", "covered_b", "covered_change", "rate_a", "rate_b"]
    if ca is None or cb is None:
        return pd.DataFrame(columns=cols)
    from lnplan.geo import boundaries

    names = boundaries.cities().set_index("code")["name"]
    merged = ca[["city_code", "covered_households", "coverage_rate"]].merge(
        cb[["city_code", "covered_households", "coverage_rate"]],
        on="city_code",
        how="outer",
        suffixes=("_a", "_b"),
    )
    out = pd.DataFrame(
        {
            "city_code": merged["city_code"].astype(str),
            "city": merged["city_code"].astype(str).map(names),
            "covered_a": merged["covered_households_a"].fillna(0).astype("int64"),
            "covered_b": merged["covered_households_b"].fillna(0).astype("int64"),
        }
    )
    out["covered_change"] = out["covered_b"] - out["covered_a"]
    out["rate_a"] = merged["coverage_rate_a"]
    out["rate_b"] = merged["coverage_rate_b"]
    return out[cols].sort_values("city_code").reset_index(drop=True)


_TEAM_COLUMNS = ("children_screened", "days_away", "townships_visited")


def _compare_teams(ta: RunTables, tb: RunTables) -> pd.DataFrame:
    a, b = ta.table("screening_routes", "teams"), tb.table("screening_routes", "teams")
    if a is None or b is None:
        return pd.DataFrame(columns=["team"])
    cols = [c for c in _TEAM_COLUMNS if c in a.columns and c in b.columns]
    merged = a[["team", *cols]].merge(
        b[["team", *cols]], on="team", how="outer", suffixes=("_a", "_b")
    )
    merged = merged.fillna(0)
    for c in cols:
        merged[f"{c}_change"] = merged[f"{c}_b"] - merged[f"{c}_a"]
    return merged.reset_index(drop=True)


def _first_visits(schedule: pd.DataFrame) -> pd.DataFrame:
    day = "date" if "date" in schedule.columns else "day"  # runs before dated campaigns had "day"
    first = schedule.sort_values(["team", "trip", day, "order"], kind="stable")
    return first.drop_duplicates("township_code")[["township_code", "township", "team", "trip"]]


def _compare_townships(ta: RunTables, tb: RunTables) -> pd.DataFrame:
    a, b = ta.table("screening_routes", "schedule"), tb.table("screening_routes", "schedule")
    cols = ["township_code", "township", "team_a", "trip_a", "team_b", "trip_b"]
    if a is None or b is None or a.empty or b.empty:
        return pd.DataFrame(columns=cols)
    fa, fb = _first_visits(a), _first_visits(b)
    merged = fa.merge(fb.drop(columns="township"), on="township_code", suffixes=("_a", "_b"))
    moved = (merged["team_a"] != merged["team_b"]) | (merged["trip_a"] != merged["trip_b"])
    return merged.loc[moved, cols].sort_values("township_code").reset_index(drop=True)
