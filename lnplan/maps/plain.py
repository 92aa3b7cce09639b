"""Plain maps of programme results: every shareable layer of a programme on the county outlines.

Polygons are filled by a value column (a choropleth), points are drawn as circles sized by a value
column, lines as polylines; every attribute shows in the tooltip. The layers come from
:class:`lnplan.programs.ProgrammeOutput`, which by contract holds aggregates only; this module
refuses a layer with household rows all the same.

A layer may say how it wants to be drawn through ``layer.attrs``:

``value_column``
    the numeric column that fills polygons or sizes points (default: the first numeric column);
``colour``
    a fixed colour for points and lines (default: one per layer);
``map_label``
    the legend name of the layer (default: the layer's key).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import branca.colormap as cm
import geopandas as gpd
import numpy as np
import offlinefolium as folium
import pandas as pd
from branca.element import Element

from lnplan.errors import CRSError, LnplanError
from lnplan.maps.boundaries import geojson_text, lib, new_map, save_map, title_box

LAYER_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
#: Light to dark fill for choropleths (ColorBrewer YlOrRd).
FILL_RAMP = ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026")
PRIVATE_COLUMNS = ("household_id", "household_ids", "household_name")


def _shareable(layer: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if layer.crs is None:
        raise CRSError(f"map layer {name!r} has no CRS")
    private = [c for c in layer.columns if str(c).lower() in PRIVATE_COLUMNS]
    if private:
        raise LnplanError(
            f"map layer {name!r} has household columns {private}; maps show aggregates only"
        )
    out = layer.to_crs("EPSG:4326")
    # Tooltips and GeoJSON need plain JSON values.
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(3)
        elif not (pd.api.types.is_integer_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].astype(str)
    return out


def _value_column(layer: gpd.GeoDataFrame) -> str | None:
    wanted = layer.attrs.get("value_column")
    if wanted is not None:
        if wanted not in layer.columns:
            raise LnplanError(f"value_column {wanted!r} is not a column of the layer")
        return str(wanted)
    numeric = [
        c
        for c in layer.columns
        if c != layer.geometry.name and pd.api.types.is_numeric_dtype(layer[c])
    ]
    return str(numeric[0]) if numeric else None


#: Height in pixels a legend box takes, so the next one stacks above it.
LEGEND_STEP_PX = 140


def legend_box(caption: str, cmap: cm.ColorMap, lo: float, hi: float, *, slot: int = 0) -> Element:
    """A static HTML colour legend in the bottom right corner (no JavaScript, works offline).

    ``slot`` stacks several legends: slot 0 at the bottom, slot 1 above it, and so on.
    """
    steps = np.linspace(lo, hi, 5) if hi > lo else np.array([lo])
    fmt = "{:,.0f}" if abs(hi) >= 100 else "{:,.4g}"
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;'
        f'background:{cmap(float(v))};border:1px solid #666;margin-right:6px"></span>'
        f"{fmt.format(float(v))}</div>"
        for v in steps
    )
    return Element(
        f'<div style="position:fixed;bottom:{30 + slot * LEGEND_STEP_PX}px;right:10px;'
        "z-index:9999;background:white;"
        'padding:6px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif">'
        f"<b>{html.escape(caption)}</b>{rows}</div>"
    )


def _tooltip(fmap: folium.Map, layer: gpd.GeoDataFrame) -> Any:
    fields = [str(c) for c in layer.columns if c != layer.geometry.name][:12]
    return lib(fmap).GeoJsonTooltip(fields=fields) if fields else None


def add_layer(
    fmap: folium.Map, layer: gpd.GeoDataFrame, name: str, *, colour: str | None = None
) -> None:
    """Draw one shareable layer on ``fmap`` as its own toggleable overlay."""
    attrs = dict(layer.attrs)
    gdf = _shareable(layer, name)
    gdf.attrs = attrs
    if gdf.empty:
        return
    label = str(attrs.get("map_label", name))
    colour = str(attrs.get("colour", colour or LAYER_COLOURS[0]))
    kinds = set(gdf.geom_type.dropna())
    value = _value_column(gdf)
    data = geojson_text(gdf)
    if kinds <= {"Polygon", "MultiPolygon"}:
        edge = 0.8 if len(gdf) <= 300 else 0.0  # many small cells: outlines would hide the fill
        cmap: cm.ColorMap | None = None
        if value is not None:
            vals = gdf[value].to_numpy(dtype=float)
            lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
            cmap = cm.LinearColormap(FILL_RAMP, vmin=lo, vmax=hi if hi > lo else lo + 1)
            # branca's own legend loads d3 from a CDN and breaks the map offline: draw it in HTML.
            slot = getattr(fmap, "_lnplan_legends", 0)
            fmap._lnplan_legends = slot + 1  # type: ignore[attr-defined]
            fmap.get_root().html.add_child(  # type: ignore[attr-defined]
                legend_box(f"{label}: {value}", cmap, lo, hi, slot=slot)
            )

        def style(feature: dict, _v: str | None = value, _c: cm.ColorMap | None = cmap) -> dict:
            v = feature["properties"].get(_v) if _v is not None else None
            if _c is None:
                return {"fillColor": colour, "color": "#333333", "weight": edge, "fillOpacity": 0.4}
            fill = _c(v) if isinstance(v, int | float) and np.isfinite(v) else "#cccccc"
            return {"fillColor": fill, "color": "#333333", "weight": edge, "fillOpacity": 0.7}

        lib(fmap).GeoJson(
            data, name=label, style_function=style, tooltip=_tooltip(fmap, gdf)
        ).add_to(fmap)
    elif kinds <= {"Point", "MultiPoint"}:
        radius = np.full(len(gdf), 5.0)
        if value is not None:
            vals = np.nan_to_num(gdf[value].to_numpy(dtype=float), nan=0.0).clip(min=0)
            top = vals.max()
            if top > 0:
                radius = 3.0 + 9.0 * np.sqrt(vals / top)
        group = lib(fmap).FeatureGroup(name=label)
        tooltip_cols = [c for c in gdf.columns if c != gdf.geometry.name][:12]
        for (_, row), r in zip(gdf.iterrows(), radius, strict=True):
            text = "<br>".join(
                f"<b>{html.escape(str(c))}</b>: {html.escape(str(row[c]))}" for c in tooltip_cols
            )
            lib(fmap).CircleMarker(
                location=[row.geometry.y, row.geometry.x],
                radius=float(r),
                color=colour,
                weight=1,
                fill=True,
                fill_opacity=0.8,
                tooltip=text or None,
            ).add_to(group)
        group.add_to(fmap)
    else:

        def line_style(feature: dict) -> dict:
            return {"color": colour, "weight": 3, "opacity": 0.85}

        lib(fmap).GeoJson(
            data, name=label, style_function=line_style, tooltip=_tooltip(fmap, gdf)
        ).add_to(fmap)


def layers_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    counties: gpd.GeoDataFrame,
    *,
    title: str,
    notes: Sequence[str] = (),
    **map_options: Any,
) -> folium.Map:
    """A map of ``layers`` over the county outlines, with a title box and a layer switcher."""
    if counties.crs is None or not counties.crs.equals("EPSG:4326"):
        raise CRSError("county outlines for maps must be in EPSG:4326")
    fmap = new_map(counties.total_bounds, **map_options)
    lib(fmap).GeoJson(
        geojson_text(counties[["name", "city", "geometry"]]),
        name="区县 Counties",
        style_function=lambda f: {"fillOpacity": 0.0, "color": "#555555", "weight": 0.6},
        tooltip=lib(fmap).GeoJsonTooltip(fields=["name", "city"], aliases=["区县", "城市"]),
    ).add_to(fmap)
    for i, (name, layer) in enumerate(layers.items()):
        add_layer(fmap, layer, name, colour=LAYER_COLOURS[i % len(LAYER_COLOURS)])
    fmap.get_root().html.add_child(  # type: ignore[attr-defined]
        title_box(title, [html.escape(n) for n in notes])
    )
    lib(fmap).LayerControl(collapsed=False).add_to(fmap)
    return fmap


def write_layers_map(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    counties: gpd.GeoDataFrame,
    *,
    title: str,
    notes: Sequence[str] = (),
    **map_options: Any,
) -> Path:
    """Draw ``layers`` with :func:`layers_map` and write the HTML whole or not at all."""
    return save_map(layers_map(layers, counties, title=title, notes=notes, **map_options), path)
