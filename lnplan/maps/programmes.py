"""What each programme's map shows, drawn from the tables and layers the programme returned.

``sites_layers``, ``fund_layers`` and ``routes_layers`` add one programme's layers to a
:class:`lnplan.maps.page.MapPage` (the overview calls all three); they read
:class:`lnplan.programs.ProgrammeOutput` tables and layers and the run's world (names of counties
and townships, township points), and never solve. Households never appear: the uncovered demand is
drawn from the programme's shareable cells (each of at least ``maps.min_cell_households``
households), dissolved into one shape per class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lnplan.geo.boundaries import METRIC_CRS
from lnplan.maps.page import MapPage, Outlines, esc, ramp
from lnplan.maps.text import count, money, pct, word, yuan

if TYPE_CHECKING:
    from lnplan.programs import ProgrammeOutput
    from lnplan.world import World

GREENS = ("#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c")
BLUES = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
PURPLES = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")
ORANGES = ("#fdd0a2", "#fd8d3c", "#d94801")
#: One colour per team (ColorBrewer Dark2 + Set1), readable on the light basemap.
TEAM_COLOURS = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#e41a1c",
    "#377eb8",
    "#984ea3",
)


def _popup(rows: list[tuple[str, str]], title: str | None = None) -> str:
    """Popup HTML from (label, value) rows of already escaped or numeric text."""
    head = f"<b>{title}</b><br>" if title else ""
    body = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in rows)
    return f"{head}<table>{body}</table>"


def _breaks_text(breaks: list[float], fmt: Any) -> list[str]:
    return [f"{fmt(breaks[i])} – {fmt(breaks[i + 1])}" for i in range(len(breaks) - 1)]


def _county_names(world: World) -> dict[str, str]:
    c = world.counties
    return dict(zip(c["code"].astype(str), c["name"].astype(str), strict=False))


# --- sites ----------------------------------------------------------------------------------------


def sites_layers(
    page: MapPage, out: ProgrammeOutput, world: World, outlines: Outlines, *, min_households: int
) -> None:
    """County coverage choropleth, uncovered cells by class, sites, catchments (off)."""
    lang = page.lang
    zh = lang == "zh"
    group = word("sites", lang)
    county_names = _county_names(world)

    by_county = out.tables.get("coverage_by_county")
    if by_county is not None and len(by_county):
        t = by_county.assign(county_code=by_county["county_code"].astype(str))
        shapes = outlines.counties.merge(t, left_on="code", right_on="county_code", how="inner")
        share = shapes["covered_households"] / shapes["households"].clip(lower=1)
        bounds = [0.0, 0.5, 0.7, 0.8, 0.9, 1.0001]
        k = np.clip(np.searchsorted(bounds[1:-1], share.to_numpy(), side="right"), 0, 4)
        popups = [
            _popup(
                [
                    (
                        "需服务家庭" if zh else "Households",
                        f"{count(r.households)} 户" if zh else count(r.households),
                    ),
                    (
                        "覆盖" if zh else "Within reach",
                        f"{count(r.covered_households)} 户" if zh else count(r.covered_households),
                    ),
                    ("覆盖率" if zh else "Share", pct(s)),
                ],
                esc(r.name),
            )
            for r, s in zip(shapes.itertuples(), share, strict=True)
        ]
        page.add(
            group,
            "各县覆盖率" if zh else "Coverage by county",
            shapes[["geometry"]],
            styles=[
                {"color": "#ffffff", "weight": 0.5, "fillColor": c, "fillOpacity": 0.65}
                for c in GREENS
            ],
            style_index=[int(i) for i in k],
            popup=popups,
        )
        labels = ["< 50%", "50% – 70%", "70% – 80%", "80% – 90%", "≥ 90%"]
        page.legend(
            "各县可达家庭占比" if zh else "Households within reach, by county",
            list(zip(GREENS, labels, strict=True)),
        )

    cells = out.layers.get("coverage")
    if cells is not None and len(cells) and "covered" in cells:
        left = (cells["households"] - cells["covered"]).to_numpy()
        keep = left >= min_households
        if keep.any():
            part = cells[keep].to_crs(METRIC_CRS)
            thresholds = [min_households, 20, 50]
            cls = np.searchsorted(thresholds[1:], left[keep], side="right")
            shapes, names = [], []
            unit = " 户" if zh else " households"
            texts = [f"{min_households}–19{unit}", f"20–49{unit}", f"≥ 50{unit}"]
            for c in range(3):
                sel = part.geometry.to_numpy()[cls == c]
                if sel.size:
                    shapes.append(shapely.union_all(sel).simplify(100.0))
                    names.append(c)
            dissolved = gpd.GeoDataFrame(geometry=shapes, crs=METRIC_CRS).to_crs("EPSG:4326")
            page.add(
                group,
                "未覆盖的需求（聚合格网）" if zh else "Demand not within reach (grouped cells)",
                dissolved,
                styles=[{"stroke": False, "fillColor": c, "fillOpacity": 0.45} for c in ORANGES],
                style_index=names,
                tooltip=[
                    ("每格未覆盖 " if zh else "Not within reach per cell: ") + texts[c]
                    for c in names
                ],
            )
            page.legend(
                "未覆盖的家庭（每格）" if zh else "Households not within reach (per cell)",
                list(zip(ORANGES, texts, strict=True)),
            )

    catch = out.layers.get("catchments")
    if catch is not None and len(catch):
        page.add(
            group,
            "服务范围（示意）" if zh else "Service areas (sketch)",
            catch.to_crs("EPSG:4326")[["geometry"]],
            styles=[{"color": "#2c7fb8", "weight": 1, "fill": False, "dashArray": "4 3"}],
            show=False,
        )

    towns = world.townships
    town_name = dict(zip(towns["code"].astype(str), towns["name"].astype(str), strict=False))
    cand = world.candidates
    cand_town = dict(
        zip(cand["candidate_id"].astype(str), cand["township_code"].astype(str), strict=False)
    )
    table = out.tables.get("sites")
    for key, status, colour, name in (
        ("sites", "new", "#c2185b", "新建示范点" if zh else "New sites"),
        ("existing_sites", "existing", "#455a64", "现有站点" if zh else "Existing sites"),
    ):
        layer = out.layers.get(key)
        if layer is None or not len(layer):
            continue
        layer = layer.to_crs("EPSG:4326")
        extra = (
            table.set_index(table["candidate_id"].astype(str))
            if table is not None and "candidate_id" in table
            else pd.DataFrame()
        )
        popups = []
        for r in layer.itertuples():
            cid = str(r.candidate_id)
            row = extra.loc[cid] if cid in extra.index else pd.Series(dtype=object)
            rows = [
                ("乡镇" if zh else "Township", esc(town_name.get(cand_town.get(cid, ""), "—"))),
                ("县（区）" if zh else "County", esc(county_names.get(str(r.county_code), "—"))),
            ]
            unit = " 户" if zh else ""
            if "households_within_reach" in row:
                rows.append(
                    (
                        "可达家庭" if zh else "Households within reach",
                        count(row["households_within_reach"]) + unit,
                    )
                )
            if "households_only_this_site" in row:
                rows.append(
                    (
                        "仅此点可达" if zh else "Reached by this site alone",
                        count(row["households_only_this_site"]) + unit,
                    )
                )
            rows.append(
                (
                    "分配服务家庭" if zh else "Households it serves",
                    count(r.catchment_households) + unit,
                )
            )
            popups.append(_popup(rows, esc(r.name)))
        page.add(
            group,
            f"{name}（{count(len(layer))}）" if zh else f"{name} ({count(len(layer))})",
            layer[["geometry"]],
            styles=[
                {
                    "radius": 6 if status == "new" else 5,
                    "color": "#ffffff",
                    "weight": 1.5,
                    "fillColor": colour,
                    "fillOpacity": 0.95,
                }
            ],
            popup=popups,
            tooltip=[esc(n) for n in layer["name"]],
        )
        page.legend("", [(colour, esc(name))], kind="dot")


# --- fund -----------------------------------------------------------------------------------------

BINDING_ZH = {
    "floor": "受每县最低额约束",
    "committed": "受已承诺金额约束",
    "cap": "受每县上限约束",
    "unit": "按需求比例，仅按分配单位取整",
    "budget": "因其他县的最低额或上限而调整",
    "none": "恰为按需求比例的金额",
}
BINDING_EN = {
    "floor": "held at the county floor",
    "committed": "held at the committed amount",
    "cap": "held at the county cap",
    "unit": "in proportion to need, rounded to the unit",
    "budget": "moved by other counties' floors or caps",
    "none": "exactly in proportion to need",
}


def fund_layers(page: MapPage, out: ProgrammeOutput, world: World, outlines: Outlines) -> None:
    """County choropleths of the amount (万元) and of yuan per person in need; priority outlined."""
    lang = page.lang
    zh = lang == "zh"
    group = word("fund", lang)
    alloc = out.tables.get("allocation")
    if alloc is None or not len(alloc):
        return
    t = alloc.assign(county_code=alloc["county_code"].astype(str))
    shapes = outlines.counties[["code", "geometry"]].merge(
        t, left_on="code", right_on="county_code", how="inner"
    )
    need = shapes["need"].astype(float).clip(lower=1e-9) if "need" in shapes else None
    per_person = (
        shapes["amount_yuan"].astype(float) / need
        if need is not None
        else pd.Series(np.nan, index=shapes.index)
    )
    binding = BINDING_ZH if zh else BINDING_EN
    popups = []
    for r, pp in zip(shapes.itertuples(), per_person, strict=True):
        rows = [
            ("城市" if zh else "City", esc(r.city)),
            ("金额" if zh else "Amount", money(r.amount_yuan, lang)),
            ("每名需帮扶者" if zh else "Per person in need", yuan(pp, lang)),
            ("需求占比" if zh else "Share of need", pct(r.share_of_need)),
            ("资金占比" if zh else "Share of budget", pct(r.share_of_budget)),
            ("说明" if zh else "Why", esc(binding.get(str(r.binding), str(r.binding)))),
        ]
        popups.append(_popup(rows, esc(r.county)))
    k, breaks = ramp(shapes["amount_yuan"].to_numpy(dtype=float), BLUES)
    page.add(
        group,
        "分配金额（万元）" if zh else "Amount (million yuan)",
        shapes[["geometry"]],
        styles=[
            {"color": "#ffffff", "weight": 0.6, "fillColor": c, "fillOpacity": 0.8} for c in BLUES
        ],
        style_index=k,
        popup=popups,
    )
    texts = _breaks_text(breaks, lambda v: money(v, lang).split(" ")[0])
    page.legend(
        "分配金额（万元）" if zh else "Amount (million yuan)",
        list(zip(BLUES, texts, strict=False)),
    )
    k2, breaks2 = ramp(per_person.to_numpy(dtype=float), PURPLES)
    page.add(
        group,
        "每名需帮扶者金额（元）" if zh else "Yuan per person in need",
        shapes[["geometry"]],
        styles=[
            {"color": "#ffffff", "weight": 0.6, "fillColor": c, "fillOpacity": 0.8} for c in PURPLES
        ],
        style_index=k2,
        popup=popups,
        show=False,
    )
    page.legend(
        "每名需帮扶者金额（元，图层默认关闭）" if zh else "Yuan per person in need (layer off)",
        list(zip(PURPLES, _breaks_text(breaks2, count), strict=False)),
    )
    pri = outlines.counties
    if "priority" in world.counties:
        codes = set(world.counties.loc[world.counties["priority"], "code"].astype(str))
    else:
        codes = set(shapes["code"])
    pri = pri[pri["code"].isin(codes)]
    page.add(
        group,
        "重点县（区）" if zh else "Priority counties",
        pri[["geometry"]],
        styles=[{"color": "#7f0000", "weight": 2.2, "fill": False}],
        tooltip=[esc(n) for n in pri["name"]],
    )
    page.legend("", [("#7f0000", "重点县（区）" if zh else "Priority county")], kind="line")


# --- routes ---------------------------------------------------------------------------------------


def routes_layers(page: MapPage, out: ProgrammeOutput, world: World) -> None:
    """A colour per team, a layer per team and trip with numbered stops; overnight places;
    unscreened townships (muted, off by default, aggregated per county where they crowd)."""
    lang = page.lang
    zh = lang == "zh"
    group = word("routes", lang)
    towns = world.townships.to_crs("EPSG:4326")
    pos = dict(zip(towns["code"].astype(str), towns.geometry, strict=False))
    sched = out.tables.get("schedule", pd.DataFrame())
    days = out.tables.get("team_days", pd.DataFrame())
    routes = out.layers.get("routes")
    # Each trip starts and ends at its team's base: the first point of its route line.
    bases: dict[tuple[str, int], shapely.Point] = {}
    if routes is not None and len(routes) and {"team", "trip"} <= set(routes.columns):
        for r in routes.to_crs("EPSG:4326").itertuples():
            bases[(str(r.team), int(cast(Any, r.trip)))] = shapely.Point(r.geometry.coords[0])
    day_col = "date" if "date" in sched.columns else "day"

    def day_text(value: Any) -> str:
        if day_col == "date":
            return esc(value)
        return f"第 {value} 天" if zh else f"day {value}"

    unscreened = out.tables.get("unscreened")
    if unscreened is not None and len(unscreened):
        # Aggregated per county: one circle per county at the mean of its unscreened townships.
        u = unscreened.assign(township_code=unscreened["township_code"].astype(str))
        u = u[u["township_code"].isin(pos)]
        if len(u):
            xy = np.array([[pos[c].x, pos[c].y] for c in u["township_code"]])
            u = u.assign(x=xy[:, 0], y=xy[:, 1])
            agg = u.groupby("county", sort=True).agg(
                townships=("township_code", "size"),
                children=("children_left", "sum"),
                x=("x", "mean"),
                y=("y", "mean"),
            )
            layer = gpd.GeoDataFrame(
                agg.reset_index(), geometry=gpd.points_from_xy(agg["x"], agg["y"]), crs=4326
            )
            top = max(float(layer["children"].max()), 1.0)
            radius = 3 + 9 * np.sqrt(layer["children"].to_numpy(dtype=float) / top)
            page.add(
                group,
                "未筛查乡镇（按县汇总）" if zh else "Townships not screened (by county)",
                layer[["geometry"]],
                styles=[
                    {
                        "radius": float(r),
                        "color": "#8c8c8c",
                        "weight": 1,
                        "fillColor": "#bdbdbd",
                        "fillOpacity": 0.5,
                    }
                    for r in radius
                ],
                style_index=list(range(len(layer))),
                tooltip=[
                    (
                        f"{esc(r.county)}：{count(r.townships)} 个乡镇未筛查，"
                        f"约 {count(r.children)} 名儿童"
                        if zh
                        else f"{esc(r.county)}: {count(r.townships)} townships not screened, "
                        f"about {count(r.children)} children"
                    )
                    for r in layer.itertuples()
                ],
                show=False,
            )
            page.legend(
                "",
                [
                    (
                        "#bdbdbd",
                        "未筛查乡镇（按县汇总，默认关闭）"
                        if zh
                        else "Not screened, by county (off)",
                    )
                ],
                kind="dot",
            )

    if sched is None or not len(sched):
        page.legend_note("本方案未安排筛查行程。" if zh else "No screening trips in this plan.")
        return
    teams = list(dict.fromkeys(sched["team"].astype(str)))
    colour = {t: TEAM_COLOURS[i % len(TEAM_COLOURS)] for i, t in enumerate(teams)}
    overnight = {}
    if days is not None and len(days) and "overnight" in days:
        for d in days.to_dict("records"):
            overnight[(str(d["team"]), int(d["trip"]), str(d[day_col]))] = str(d["overnight"])
    gathered_at: dict[str, list[str]] = {}
    gathering = out.tables.get("gathering")
    if gathering is not None and len(gathering):
        g = gathering[
            (gathering["host_code"].astype(str) != gathering["township_code"].astype(str))
            & (gathering["children_screened"] > 0)
        ]
        for host, town in zip(g["host_code"].astype(str), g["township"].astype(str), strict=True):
            gathered_at.setdefault(host, []).append(town)
    nights = []
    for key, stops in sched.groupby(["team", "trip"], sort=False):
        team, trip = str(cast(tuple, key)[0]), int(cast(tuple, key)[1])
        stops = stops.sort_values("order")
        coords = [pos[str(c)] for c in stops["township_code"]]
        base_xy = bases.get((team, trip))
        line_pts = ([base_xy] if base_xy is not None else []) + coords
        line_pts += [base_xy] if base_xy is not None else []
        line = shapely.LineString([(p.x, p.y) for p in line_pts])
        name = f"第 {trip} 趟" if zh else f"trip {trip}"
        popups: list[str | None] = [None]
        for s in stops.to_dict("records"):
            rows = [
                ("日期" if zh else "Date", day_text(s[day_col])),
                ("到达" if zh else "Arrival", esc(s["arrive"])),
                (
                    "筛查儿童" if zh else "Children screened",
                    f"{count(s['children_screened'])} 人" if zh else count(s["children_screened"]),
                ),
                ("县（区）" if zh else "County", esc(s["county"])),
            ]
            others = gathered_at.get(str(s["township_code"]), [])
            if others:  # a gathering point: the neighbours whose children are brought here
                rows.append(
                    (
                        "集中筛查" if zh else "Gathering point for",
                        esc("、".join(others) if zh else ", ".join(others)),
                    )
                )
            popups.append(_popup(rows, f"{s['order']}. {esc(s['township'])}"))
        # One layer per trip: its straight-line route and its numbered stops.
        page.add(
            f"{group} · {team}",
            name,
            gpd.GeoDataFrame(geometry=[line, *coords], crs=4326),
            styles=[
                {"color": colour[team], "weight": 3, "opacity": 0.85},
                {"fillColor": colour[team]},
            ],
            style_index=[0] + [1] * len(coords),
            popup=popups,
            tooltip=[esc(f"{team} · {name}")] + [None] * len(coords),
            number=[None, *(int(o) for o in stops["order"])],
        )
        for day, on_day in stops.groupby(day_col):
            night = overnight.get((team, trip, str(day)))
            last = on_day.sort_values("order").iloc[-1]
            if night and str(night) in (str(last["visit"]), str(last["township"])):
                nights.append(
                    (
                        team,
                        trip,
                        day_text(day),
                        str(last["township"]),
                        pos[str(last["township_code"])],
                    )
                )
    if nights:
        layer = gpd.GeoDataFrame(geometry=[n[4] for n in nights], crs=4326)
        page.add(
            group,
            "住宿地" if zh else "Overnight places",
            layer,
            styles=[
                {"radius": 11, "color": "#222222", "weight": 2, "fill": False, "dashArray": "2 2"}
            ],
            tooltip=[
                f"{esc(t)}：{d} 住 {esc(n)}" if zh else f"{esc(t)}: night of {d} at {esc(n)}"
                for t, _trip, d, n, _p in nights
            ],
        )
    page.legend("专家队" if zh else "Teams", [(colour[t], esc(t)) for t in teams], kind="line")
    page.legend(
        "",
        [
            (
                "#ffffff",
                "数字为到访顺序（放大地图后显示）；虚线圈为住宿地"
                if zh
                else "Numbers: visiting order (shown when zoomed in); dashed ring: overnight place",
            )
        ],
        kind="dot",
    )
    page.legend_note(word("straight", lang))


def layer_counts(page: MapPage) -> Mapping[str, int]:
    """Features per layer name, as the browser test expects them rendered."""
    return {s.name: s.features for s in page.layers}
