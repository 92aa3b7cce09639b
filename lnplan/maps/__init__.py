"""Shared maps of a run, for officials: they read programme results and never solve.

:func:`write_run_maps` is what ``lnplan run`` calls last. It writes one map per programme
(``fitness_sites/map.html``, ``employment_fund/map.html``, ``screening_routes/map.html``), an
``overview.html`` with all of them under a grouped layer panel, and the run's ``index.html``
(:mod:`lnplan.report.index`). Every map opens on a summary panel of plain sentences with the key
figures (:mod:`lnplan.maps.text`), in Chinese, or English with ``maps.language = "en"``; the
engine and the proven gap go to a folded method note only. Maps are readable with no tiles at all
(a light basemap is drawn from the embedded outlines, simplified for display) and embed Leaflet,
so they work where tile hosts and CDNs are blocked (:mod:`lnplan.maps.page`).

Decision on ``folium-offline``: it stays. It is used only to embed Leaflet's own script and
style sheet (the two assets lnplan needs: ``tests/maps/test_offline.py`` checks every produced
page has no external ``src`` or ``href``), and the layers, panels and layer control are lnplan's
own few lines of JavaScript, so no folium plugin (and none of its CDN assets) is involved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lnplan.maps.page import MapPage, basemap_layers, display_outlines, resolve_tiles
from lnplan.maps.programmes import fund_layers, routes_layers, sites_layers
from lnplan.maps.text import (
    Language,
    fund_sentences,
    method_note,
    record,
    routes_sentences,
    sites_sentences,
    word,
)

if TYPE_CHECKING:
    from lnplan.maps.page import Outlines
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import MapsSection, Scenario
    from lnplan.world import World

__all__ = ["MAP_FILE", "OVERVIEW_FILE", "programme_page", "write_run_maps"]

MAP_FILE = "map.html"
OVERVIEW_FILE = "overview.html"

#: Programme name -> (title key, sentences, layer drawer).
_SENTENCES: dict[str, Callable[..., list[str]]] = {
    "fitness_sites": sites_sentences,
    "employment_fund": fund_sentences,
    "screening_routes": routes_sentences,
}
_TITLE = {"fitness_sites": "sites", "employment_fund": "fund", "screening_routes": "routes"}


def _page(maps: MapsSection, title: str, world: World, outlines: Outlines) -> MapPage:
    tiles, key = resolve_tiles(maps.tiles, maps.tianditu_key)
    lang: Language = maps.language
    label = word("synthetic", lang) if world.synthetic else None
    page = MapPage(
        title=title,
        lang=lang,
        tiles=tiles,
        tiles_key=key,
        tiles_url=maps.tiles_url,
        attribution=maps.tiles_attribution,
        label=label,
        bounds=tuple(outlines.province.total_bounds),
        offline=maps.offline_assets,
    )
    basemap_layers(page, outlines)
    return page


def _draw(
    page: MapPage, output: ProgrammeOutput, world: World, outlines: Outlines, **kw: Any
) -> None:
    if output.name == "fitness_sites":
        sites_layers(page, output, world, outlines, min_households=kw["min_households"])
    elif output.name == "employment_fund":
        fund_layers(page, output, world, outlines)
    elif output.name == "screening_routes":
        routes_layers(page, output, world)


def sentences_of(output: ProgrammeOutput, lang: Language) -> tuple[list[str], str]:
    """The summary sentences and the method note of a programme result."""
    rec = record(dict(output.summary), dict(output.models))
    make = _SENTENCES.get(output.name)
    if make is None:
        return [], method_note(rec, lang)
    return make(dict(output.summary), rec, lang), method_note(rec, lang)


def programme_page(
    scenario: Scenario, world: World, output: ProgrammeOutput, outlines: Outlines
) -> MapPage:
    """The map of one programme's result."""
    lang: Language = scenario.maps.language
    key = _TITLE.get(output.name)
    title = f"{scenario.name} · {word(key, lang) if key else output.name}"
    page = _page(scenario.maps, title, world, outlines)
    sentences, method = sentences_of(output, lang)
    page.sentences = sentences
    page.method = [method]
    _draw(page, output, world, outlines, min_households=scenario.maps.min_cell_households)
    return page


def overview_page(
    scenario: Scenario, world: World, outputs: Sequence[ProgrammeOutput], outlines: Outlines
) -> MapPage:
    """All programmes on one map, a layer group each, with every programme's key sentences."""
    lang: Language = scenario.maps.language
    page = _page(scenario.maps, f"{scenario.name} · {word('overview', lang)}", world, outlines)
    sentences, methods = [], []
    for output in outputs:
        key = _TITLE.get(output.name)
        if key is None:
            continue
        s, m = sentences_of(output, lang)
        head = word(key, lang)
        sentences += [f"{head}：{s[0]}" if lang == "zh" else f"{head}: {s[0]}", *s[1:]]
        methods.append(f"{head}：{m}" if lang == "zh" else f"{head}: {m}")
        before = len(page.layers)
        _draw(page, output, world, outlines, min_households=scenario.maps.min_cell_households)
        if output.name == "fitness_sites":
            # On the overview the fund's choropleth fills the counties: the sites' area layers
            # start off (a click shows them), the sites themselves stay.
            for spec in page.layers[before:]:
                if spec.data["features"] and spec.data["features"][0]["geometry"]["type"] in (
                    "Polygon",
                    "MultiPolygon",
                ):
                    spec.show = False
    page.sentences = sentences
    page.method = methods
    return page


def write_run_maps(
    scenario: Scenario, world: World, outputs: Sequence[ProgrammeOutput], out_dir: Path
) -> list[Path]:
    """Write the programme maps, ``overview.html`` and ``index.html``; return their paths."""
    from lnplan.report.index import write_index

    out = Path(out_dir)
    outlines = display_outlines(world.counties)
    written: list[Path] = []
    drawn = [o for o in outputs if o.name in _TITLE]
    for output in drawn:
        page = programme_page(scenario, world, output, outlines)
        written.append(page.save(out / output.name / MAP_FILE))
    written.append(overview_page(scenario, world, drawn, outlines).save(out / OVERVIEW_FILE))
    written.append(write_index(scenario, world, outputs, out))
    if scenario.maps.snapshots:
        from lnplan.report.snapshot import snapshot_run

        written += snapshot_run(out)
    return written
