"""A map of Liaoning's 14 cities and 100 county-level divisions.

Maps draw in EPSG:4326 and embed Leaflet and its assets (``folium-offline``), so a shared HTML file
renders for an official whose network blocks public CDNs; only the optional base tiles need a
network, and the boundaries show without them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium as cdn_folium
import geopandas as gpd
import numpy as np
import offlinefolium as folium
import shapely

from lnplan.errors import CRSError, InputError
from lnplan.report.io import atomic_write

#: A qualitative palette for the 14 cities (ColorBrewer Set3 + two more), readable on white.
CITY_COLOURS = (
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
    "#fccde5", "#e5c494", "#bc80bd", "#ccebc5", "#ffed6f", "#a6cee3", "#fdbf6f",
)  # fmt: skip


def _check_wgs84(gdf: gpd.GeoDataFrame, what: str) -> None:
    if gdf.crs is None:
        raise CRSError(f"{what} has no CRS; maps need EPSG:4326")
    if not gdf.crs.equals("EPSG:4326"):
        raise CRSError(f"{what} is in {gdf.crs.to_string()}; maps need EPSG:4326")


#: Decimal places of longitude/latitude in a map's GeoJSON: 5 places are about 1 m on the ground,
#: far below what a county-scale map shows, and keep shared HTML files small.
COORD_DECIMALS = 5


def geojson_text(gdf: gpd.GeoDataFrame, decimals: int = COORD_DECIMALS) -> str:
    """``gdf`` (EPSG:4326) as GeoJSON text with coordinates rounded to ``decimals`` places."""
    geoms = shapely.transform(gdf.geometry.to_numpy(), lambda xy: np.round(xy, decimals))
    rounded = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return rounded.to_json(ensure_ascii=False, drop_id=True)


#: The only script and style sheet the maps need.
LEAFLET_ASSETS = frozenset({"leaflet", "leaflet_css"})

TILES: dict[str, str | None] = {
    "cartodb-positron": "cartodbpositron",
    "openstreetmap": "OpenStreetMap",
    "none": None,
}


def new_map(
    bounds: Sequence[float],
    *,
    tiles: str | None = "openstreetmap",
    tiles_url: str | None = None,
    attribution: str | None = None,
    offline: bool = True,
) -> folium.Map:
    """An empty map fitted to ``bounds`` (minx, miny, maxx, maxy in degrees).

    ``tiles`` is ``cartodb-positron``, ``openstreetmap``, ``none`` or ``custom`` (then
    ``tiles_url`` is a ``{z}/{x}/{y}`` template and ``attribution`` its credit). With ``offline``
    (the default) Leaflet and its assets are embedded in the HTML, so the map works where public
    CDNs are blocked; otherwise they load from CDNs and the file is much smaller.
    """
    if tiles == "custom":
        if not tiles_url:
            raise InputError("tiles 'custom' needs a tiles_url {z}/{x}/{y} template")
        tile_arg: str | None = tiles_url
    elif tiles is None or tiles in TILES:
        tile_arg = TILES.get(tiles) if tiles is not None else None
    else:
        accepted = ", ".join([*TILES, "custom"])
        raise InputError(f"unknown tiles {tiles!r}; accepted: {accepted}")
    cls: Any = folium.Map if offline else cdn_folium.Map  # same API; assets embedded or not
    fmap: folium.Map = cls(tiles=tile_arg, attr=attribution, control_scale=True, prefer_canvas=True)
    # These maps draw with Leaflet alone (GeoJSON, circle markers, tooltips, layer control); the
    # icon fonts, Bootstrap and jQuery folium adds by default would be 1.4 MB of each shared file.
    fmap.default_js = [(k, v) for k, v in fmap.default_js if k in LEAFLET_ASSETS]
    fmap.default_css = [(k, v) for k, v in fmap.default_css if k in LEAFLET_ASSETS]
    minx, miny, maxx, maxy = bounds
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def lib(fmap: Any) -> Any:
    """The folium module that made ``fmap``: elements must come from the same one."""
    return folium if isinstance(fmap, folium.Map) else cdn_folium


def title_box(title: str, lines: Sequence[str] = ()) -> folium.Element:
    """A fixed box in the top left corner of a map: a bold title and lines of HTML below it."""
    items = "".join(f"<div>{line}</div>" for line in lines)
    return folium.Element(
        '<div style="position:fixed;top:10px;left:60px;z-index:9999;background:white;'
        "padding:8px 12px;border:1px solid #888;border-radius:4px;font:14px sans-serif;"
        f'max-width:420px"><b>{html.escape(title)}</b>{items}</div>'
    )


def boundary_map(
    counties: gpd.GeoDataFrame,
    cities: gpd.GeoDataFrame,
    *,
    title: str | None = None,
    lines: Sequence[str] = (),
    **map_options: Any,
) -> folium.Map:
    """A Folium map with one layer of cities (filled by city) and one of county outlines.

    Parameters
    ----------
    counties, cities
        From :func:`lnplan.geo.boundaries.counties` and :func:`~lnplan.geo.boundaries.cities`.
    map_options
        Passed to :func:`new_map` (tiles, offline assets).
    title, lines
        An optional title box; ``lines`` are HTML (escape any text that is not markup).
    """
    _check_wgs84(counties, "counties")
    _check_wgs84(cities, "cities")
    fmap = new_map(cities.total_bounds, **map_options)
    colour = {name: CITY_COLOURS[i % len(CITY_COLOURS)] for i, name in enumerate(cities["name"])}

    city_layer = cities[["code", "name", "n_counties", "geometry"]].copy()
    city_layer["colour"] = city_layer["name"].map(colour)
    lib(fmap).GeoJson(
        geojson_text(city_layer),
        name="城市 Cities (14)",
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": "#444444",
            "weight": 2.5,
            "fillOpacity": 0.55,
        },
        tooltip=lib(fmap).GeoJsonTooltip(
            fields=["name", "code", "n_counties"], aliases=["城市", "代码", "区县数"]
        ),
    ).add_to(fmap)

    county_layer = counties[["code", "name", "city", "geometry"]].copy()
    lib(fmap).GeoJson(
        geojson_text(county_layer),
        name="区县 Counties (100)",
        style_function=lambda f: {"fillOpacity": 0.0, "color": "#222222", "weight": 0.8},
        highlight_function=lambda f: {"weight": 2.5, "color": "#d62728"},
        tooltip=lib(fmap).GeoJsonTooltip(
            fields=["name", "city", "code"], aliases=["区县", "所属城市", "代码"]
        ),
    ).add_to(fmap)
    if title is not None:
        fmap.get_root().html.add_child(  # type: ignore[attr-defined]
            title_box(title, lines)
        )
    lib(fmap).LayerControl(collapsed=False).add_to(fmap)
    return fmap


def save_map(fmap: folium.Map, path: str | Path) -> Path:
    """Write a map to an HTML file, whole or not at all."""
    return atomic_write(path, lambda tmp: fmap.save(str(tmp)))
