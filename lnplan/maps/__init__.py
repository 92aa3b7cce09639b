"""Folium maps of boundaries and programme results; they read results and never solve.

:func:`write_run_maps` is what ``lnplan run`` calls last: an index map of the 14 cities and 100
counties linking to one map per programme (``<programme>/map.html``). Maps show only what the
programmes return as shareable layers (aggregates by contract) and carry the synthetic-data label
when the world is made up.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lnplan.geo import boundaries as geo_boundaries
from lnplan.maps.boundaries import boundary_map, save_map
from lnplan.maps.plain import write_layers_map

if TYPE_CHECKING:
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import MapsSection, Scenario
    from lnplan.world import World

__all__ = ["map_options", "write_run_maps"]


def map_options(maps: MapsSection) -> dict[str, Any]:
    """Keyword options for :func:`lnplan.maps.boundaries.new_map` from a scenario's ``maps``."""
    return {
        "tiles": maps.tiles,
        "tiles_url": maps.tiles_url,
        "attribution": maps.tiles_attribution,
        "offline": maps.offline_assets,
    }


def _summary_lines(summary: dict[str, Any], limit: int = 8) -> list[str]:
    """Plain-text lines ``key: value`` for the scalar entries of a programme summary."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, dict | list | tuple):
            continue
        if isinstance(value, float):
            shown = f"{value:,.4g}"
        elif isinstance(value, int) and not isinstance(value, bool):
            shown = f"{value:,}"
        else:
            shown = str(value)
        lines.append(f"{key}: {shown}")
    return lines[:limit]


def write_run_maps(
    scenario: Scenario,
    world: World,
    outputs: Sequence[ProgrammeOutput],
    out_dir: Path,
    *,
    keep: Collection[str] = (),
) -> list[Path]:
    """Write ``index.html`` and ``<programme>/map.html`` for each programme with layers.

    Programmes named in ``keep`` whose ``map.html`` is already in ``out_dir`` (copied from an
    earlier run by :mod:`lnplan.run` because their output was reused) are linked, not redrawn.
    """
    options = map_options(scenario.maps)
    label = [world.label] if world.label else []
    counties = geo_boundaries.counties()
    written: list[Path] = []
    links: list[str] = []
    for output in outputs:
        if not output.layers:
            continue
        path = Path(out_dir) / output.name / "map.html"
        if output.name in keep and path.is_file():
            written.append(path)
            links.append(
                f'<a href="{html.escape(output.name)}/map.html">{html.escape(output.name)}</a>'
            )
            continue
        write_layers_map(
            path,
            dict(output.layers),
            counties,
            title=f"{scenario.name}: {output.name}",
            notes=[*label, *_summary_lines(dict(output.summary))],
            **options,
        )
        written.append(path)
        links.append(
            f'<a href="{html.escape(output.name)}/map.html">{html.escape(output.name)}</a>'
        )
    index = boundary_map(
        counties,
        geo_boundaries.cities(),
        title=f"{scenario.name}",
        lines=[*(f"<i>{html.escape(t)}</i>" for t in label), *links]
        or ["no programme maps in this run"],
        **options,
    )
    written.append(save_map(index, Path(out_dir) / "index.html"))
    return written
