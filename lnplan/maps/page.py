"""One shared map page: light basemap, layers drawn from embedded GeoJSON, and the panels around it.

A :class:`MapPage` is a Leaflet map (Leaflet itself embedded by ``folium-offline``) with:

- a light basemap drawn from the run's own outlines (province, cities with their names, counties),
  simplified for display with :func:`shapely.coverage_simplify` so that shared borders stay shared,
  and readable with no tiles at all;
- optional tiles (:data:`TILE_CHOICES`); with Gaode tiles every layer is shifted to GCJ-02 for
  display only (:func:`lnplan.geo.datum.wgs84_to_gcj02`); exported files stay in WGS-84;
- a summary panel (title, plain sentences, a folded method note, the synthetic-data label), a
  legend box and a grouped layer panel, each folded behind a button on a narrow (phone) screen.

Every text from user data is escaped here (:func:`esc`) before it reaches HTML, and every JSON
payload has ``<`` written as ``\\u003c`` so that no name can close the page's ``<script>``.
Layers are drawn by a few lines of our own JavaScript from per-feature properties: ``_k`` (index
of the layer's style), ``_p`` (popup HTML, escaped), ``_t`` (tooltip HTML, escaped), ``_n`` (a
stop number drawn in a coloured disc) and ``_l`` (a text label, escaped). After drawing, the page
writes the number of features each layer holds into the layer panel (``data-features``), which the
browser test reads.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import offlinefolium as folium
import pandas as pd
import shapely
from branca.element import Element

from lnplan.errors import InputError
from lnplan.geo.boundaries import METRIC_CRS
from lnplan.geo.datum import wgs84_to_gcj02
from lnplan.maps.text import Language, word
from lnplan.report.io import atomic_write_text

#: Tile choices of ``maps.tiles``.
TILE_CHOICES = ("auto", "none", "tianditu", "gaode", "openstreetmap", "custom")

#: Outlines are simplified for display to this tolerance (metres); the boundary files stay exact.
DISPLAY_TOLERANCE_M = 300.0
#: Decimal places of shown coordinates: 4 places are about 10 m, far below a county-scale map.
DISPLAY_DECIMALS = 4

TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk={key}"
)
GAODE_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def esc(text: object) -> str:
    """``text`` escaped for HTML (quotes too)."""
    return html.escape(str(text), quote=True)


def script_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can appear)."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def resolve_tiles(tiles: str, key: str | None) -> tuple[str, str | None]:
    """The tile choice after ``auto`` is settled, and the Tianditu key to use.

    ``auto`` is Tianditu when a key is set (``TIANDITU_KEY`` in the environment, else the
    scenario's ``maps.tianditu_key``), otherwise ``none``.
    """
    if tiles not in TILE_CHOICES:
        raise InputError(f"unknown tiles {tiles!r}; accepted: {', '.join(TILE_CHOICES)}")
    key = os.environ.get("TIANDITU_KEY") or key
    if tiles == "auto":
        return ("tianditu", key) if key else ("none", None)
    if tiles == "tianditu" and not key:
        raise InputError(
            "maps.tiles = 'tianditu' needs a key: set TIANDITU_KEY in the environment or "
            "maps.tianditu_key in the scenario (the key is readable by whoever opens the HTML)"
        )
    return tiles, key


def shift_for_display(gdf: gpd.GeoDataFrame, tiles: str) -> gpd.GeoDataFrame:
    """``gdf`` (EPSG:4326) with coordinates rounded, and moved to GCJ-02 for Gaode tiles."""
    geoms = gdf.geometry.to_numpy()
    if tiles == "gaode":

        def to_gcj(xy: np.ndarray) -> np.ndarray:
            lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        geoms = shapely.transform(geoms, to_gcj)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, DISPLAY_DECIMALS))
    return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))


@dataclass(frozen=True)
class Outlines:
    """Display outlines of the run's counties, the cities they form and the province."""

    counties: gpd.GeoDataFrame  # code, name, city, city_code, geometry (simplified, EPSG:4326)
    cities: gpd.GeoDataFrame  # city_code, city, geometry
    province: gpd.GeoDataFrame  # geometry


def display_outlines(counties: gpd.GeoDataFrame) -> Outlines:
    """Simplify ``counties`` for display as one coverage (shared borders stay shared).

    Cities and the province are unions of the simplified counties, so all three outlines agree.
    """
    if counties.crs is None:
        raise InputError("county outlines have no CRS")
    metric = counties.to_crs(METRIC_CRS)
    simple = shapely.coverage_simplify(metric.geometry.to_numpy(), DISPLAY_TOLERANCE_M)
    cols = [c for c in ("code", "name", "city", "city_code") if c in counties.columns]
    out = gpd.GeoDataFrame(
        metric[cols].reset_index(drop=True),
        geometry=gpd.GeoSeries(simple, crs=METRIC_CRS).to_numpy(),
        crs=METRIC_CRS,
    ).to_crs("EPSG:4326")
    out["geometry"] = shapely.transform(
        out.geometry.to_numpy(), lambda xy: np.round(xy, DISPLAY_DECIMALS)
    )
    city_key = "city_code" if "city_code" in out.columns else "city"
    groups = out.groupby(city_key, sort=True)
    cities = gpd.GeoDataFrame(
        {
            "city_code": [str(k) for k in groups.groups],
            "city": [str(g["city"].iloc[0]) if "city" in g else str(k) for k, g in groups],
        },
        geometry=[shapely.coverage_union_all(g.geometry.to_numpy()) for _, g in groups],
        crs="EPSG:4326",
    )
    province = gpd.GeoDataFrame(
        geometry=[shapely.coverage_union_all(out.geometry.to_numpy())], crs="EPSG:4326"
    )
    return Outlines(counties=out, cities=cities, province=province)


@dataclass
class LayerSpec:
    """One toggleable layer of a page."""

    group: str
    name: str
    data: dict[str, Any]
    styles: list[dict[str, Any]]
    show: bool
    features: int


_CSS = """
html,body{margin:0;padding:0}
.ln-box{position:absolute;z-index:1000;background:rgba(255,255,255,.96);border:1px solid #999;
 border-radius:6px;font:13px/1.45 "Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;
 box-shadow:0 1px 4px rgba(0,0,0,.25);color:#222}
.ln-box .ln-body{padding:6px 10px 8px 10px;overflow:auto}
.ln-fold{display:none;border:0;background:#2b6cb0;color:#fff;font:inherit;padding:6px 10px;
 border-radius:6px;cursor:pointer;width:100%;text-align:left}
#ln-panel{top:10px;left:10px;max-width:360px}
#ln-panel h1{font-size:16px;margin:2px 0 6px 0}
#ln-panel p{margin:4px 0}
#ln-panel details{margin-top:6px;color:#555;font-size:12px}
#ln-panel .ln-label{color:#b7410e;font-weight:bold}
#ln-layers{top:10px;right:10px;max-width:240px}
#ln-layers .ln-body{max-height:calc(50vh - 40px)}
#ln-layers .ln-group{font-weight:bold;margin-top:4px}
#ln-layers label{display:block;white-space:nowrap}
#ln-legend{bottom:28px;right:10px;max-width:260px}
#ln-legend .ln-body{max-height:calc(50vh - 50px)}
.ln-sw{display:inline-block;width:14px;height:12px;margin-right:6px;vertical-align:middle;
 border:1px solid #666}
.ln-dot{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px;
 vertical-align:middle;border:1px solid #333}
.ln-num span{display:block;width:18px;height:18px;border-radius:50%;color:#fff;
 font:bold 11px/18px sans-serif;text-align:center;border:1px solid #fff;
 box-shadow:0 0 2px #000}
.ln-far .ln-num span{width:8px;height:8px;margin:5px;font-size:0;border-width:1px}
.ln-city{font:bold 13px "Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#444;
 text-shadow:0 0 3px #fff,0 0 3px #fff;white-space:nowrap;pointer-events:none}
.leaflet-popup-content{font:13px/1.5 "Noto Sans CJK SC","Microsoft YaHei",sans-serif}
.leaflet-container{background:#eef3f7}
@media (max-width:640px){
 .ln-fold{display:block}
 .ln-box.ln-folded .ln-body{display:none}
 .ln-box{font-size:12px}
 #ln-panel{max-width:calc(100vw - 120px)}
 #ln-panel .ln-body{max-height:45vh}
 #ln-layers{max-width:calc(100vw - 20px);top:auto;bottom:28px;left:auto;right:10px}
 #ln-legend{bottom:auto;top:10px;right:10px;max-width:45vw}
}
@page{size:A4 landscape;margin:8mm}
@media print{.ln-fold{display:none}.ln-box.ln-folded .ln-body{display:block}
 #ln-layers{display:none}}
"""

_JS = """
document.addEventListener('DOMContentLoaded', function(){
var map=%(map)s, L_=%(layers)s, narrow=window.innerWidth<=640, made=[];
function feat(f,ll,st){var p=f.properties;
 if(p._n!=null){return L.marker(ll,{icon:L.divIcon({className:'ln-num',iconSize:[20,20],
  html:'<span style="background:'+st.fillColor+'">'+p._n+'</span>'})});}
 if(p._l!=null){return L.marker(ll,{interactive:false,icon:L.divIcon({className:'ln-city',
  iconSize:null,html:p._l})});}
 return L.circleMarker(ll,st);}
L_.forEach(function(s,i){
 var lyr=L.geoJSON(s.data,{style:function(f){return s.styles[f.properties._k||0];},
  pointToLayer:function(f,ll){return feat(f,ll,s.styles[f.properties._k||0]);},
  onEachFeature:function(f,l){var p=f.properties;if(p._p){l.bindPopup(p._p);}
   if(p._t){l.bindTooltip(p._t);}}});
 made.push(lyr); if(s.show){lyr.addTo(map);}
});
var box=document.querySelector('#ln-layers .ln-body'), last=null;
L_.forEach(function(s,i){
 if(s.group!==last){var g=document.createElement('div');g.className='ln-group';
  g.textContent=s.group;box.appendChild(g);last=s.group;}
 var lab=document.createElement('label'), cb=document.createElement('input');
 cb.type='checkbox';cb.checked=s.show;
 cb.onchange=function(){if(cb.checked){map.addLayer(made[i]);}else{map.removeLayer(made[i]);}};
 lab.appendChild(cb);lab.appendChild(document.createTextNode(' '+s.name));
 lab.setAttribute('data-layer',s.name);
 lab.setAttribute('data-features',String(made[i].getLayers().length));
 lab.setAttribute('data-expected',String(s.features));
 box.appendChild(lab);
});
document.querySelectorAll('.ln-box').forEach(function(b){
 var btn=b.querySelector('.ln-fold');
 if(narrow){b.classList.add('ln-folded');}
 btn.onclick=function(){b.classList.toggle('ln-folded');};
});
L.control.zoom({position:'bottomleft'}).addTo(map);
// Province-wide, the numbered stops are small dots; their numbers show from zoom 9 on.
function far(){map.getContainer().classList.toggle('ln-far',map.getZoom()<9);}
map.on('zoomend',far);
// On a wide screen the province is fitted between the summary (left) and the layer and legend
// boxes (right), so that no part of it starts hidden behind them.
function side(id){var e=document.getElementById(id);return e?e.offsetWidth+20:14;}
var pad=narrow?{padding:[14,14]}:{paddingTopLeft:[side('ln-panel'),14],
 paddingBottomRight:[Math.max(side('ln-layers'),side('ln-legend')),14]};
map.invalidateSize(); map.fitBounds(%(bounds)s,pad); far();
document.body.setAttribute('data-ln-ready','1');
});
"""


@dataclass
class MapPage:
    """A shared map in the making; :meth:`save` writes it whole or not at all."""

    title: str
    lang: Language
    tiles: str = "none"
    tiles_key: str | None = None
    tiles_url: str | None = None
    attribution: str | None = None
    sentences: Sequence[str] = ()
    method: Sequence[str] = ()
    label: str | None = None
    bounds: Sequence[float] = (118.8, 38.7, 125.8, 43.5)
    offline: bool = True
    layers: list[LayerSpec] = field(default_factory=list)
    legends: list[str] = field(default_factory=list)

    # --- layers -----------------------------------------------------------------------------

    def add(
        self,
        group: str,
        name: str,
        gdf: gpd.GeoDataFrame,
        *,
        styles: Sequence[Mapping[str, Any]],
        style_index: Sequence[int] | None = None,
        popup: Sequence[str | None] | None = None,
        tooltip: Sequence[str | None] | None = None,
        number: Sequence[int | None] | None = None,
        label: Sequence[str] | None = None,
        show: bool = True,
    ) -> None:
        """Add ``gdf`` (EPSG:4326) as a layer of ``group``.

        ``popup`` and ``tooltip`` are HTML already escaped (build them with :func:`esc`);
        ``label`` is plain text (escaped here).
        """
        if gdf.crs is None or not gdf.crs.equals("EPSG:4326"):
            raise InputError(f"map layer {name!r} must be in EPSG:4326")
        shown = shift_for_display(gdf, self.tiles)
        n = len(shown)
        props: list[dict[str, Any]] = [{} for _ in range(n)]
        for key, values in (("_p", popup), ("_t", tooltip), ("_n", number)):
            if values is not None:
                for p, v in zip(props, values, strict=True):
                    p[key] = v
        if label is not None:
            for p, v in zip(props, label, strict=True):
                p["_l"] = esc(v)
        if style_index is not None:
            for p, k in zip(props, style_index, strict=True):
                p["_k"] = int(k)
        geoms = shapely.to_geojson(shown.geometry.to_numpy())
        features = [
            {"type": "Feature", "properties": p, "geometry": json.loads(g)}
            for p, g in zip(props, geoms, strict=True)
            if g is not None
        ]
        data = {"type": "FeatureCollection", "features": features}
        self.layers.append(LayerSpec(group, name, data, [dict(s) for s in styles], show, n))

    def legend(self, title: str, rows: Sequence[tuple[str, str]], *, kind: str = "sw") -> None:
        """A legend section: ``rows`` of (CSS colour, escaped text); ``kind`` sw/dot/line."""
        items = []
        for colour, text in rows:
            if kind == "line":
                mark = (
                    f'<span class="ln-sw" style="height:3px;border:0;background:{colour}"></span>'
                )
            elif kind == "dot":
                mark = f'<span class="ln-dot" style="background:{colour}"></span>'
            else:
                mark = f'<span class="ln-sw" style="background:{colour}"></span>'
            items.append(f"<div>{mark}{text}</div>")
        self.legends.append(f"<div><b>{esc(title)}</b>{''.join(items)}</div>")

    def legend_note(self, text: str) -> None:
        """A line of text in the legend (escaped here)."""
        self.legends.append(f'<div style="color:#555;margin-top:4px">{esc(text)}</div>')

    # --- the page ---------------------------------------------------------------------------

    def _tiles(self, fmap: folium.Map) -> None:
        credit = self.attribution or ""
        if self.tiles == "openstreetmap":
            credit = credit or "&copy; OpenStreetMap contributors"
            folium.TileLayer(OSM_URL, attr=credit, name="OpenStreetMap").add_to(fmap)
        elif self.tiles == "gaode":
            folium.TileLayer(
                GAODE_URL, attr=credit or "&copy; 高德地图", subdomains="1234", name="Gaode"
            ).add_to(fmap)
        elif self.tiles == "tianditu":
            for layer in ("vec", "cva"):
                url = TIANDITU_URL.format(
                    s="{s}", layer=layer, z="{z}", x="{x}", y="{y}", key=self.tiles_key or ""
                )
                folium.TileLayer(
                    url, attr=credit or "&copy; 天地图", subdomains="01234567", name=layer
                ).add_to(fmap)
        elif self.tiles == "custom":
            if not self.tiles_url:
                raise InputError("tiles 'custom' needs a tiles_url {z}/{x}/{y} template")
            folium.TileLayer(self.tiles_url, attr=credit or " ", name="custom").add_to(fmap)

    def render(self) -> str:
        """The whole HTML page."""
        return str(self.folium_map().get_root().render())

    def folium_map(self) -> Any:
        """The page as a ``folium.Map`` (it shows inline in Jupyter); :meth:`render` writes it."""
        import folium as cdn_folium

        cls: Any = folium.Map if self.offline else cdn_folium.Map
        fmap = cls(
            tiles=None, control_scale=True, prefer_canvas=True, zoom_control=False, zoom_snap=0.25
        )
        fmap.default_js = [(k, v) for k, v in fmap.default_js if k in ("leaflet",)]
        fmap.default_css = [(k, v) for k, v in fmap.default_css if k in ("leaflet_css",)]
        self._tiles(fmap)
        minx, miny, maxx, maxy = self.bounds
        fmap.fit_bounds([[miny, minx], [maxy, maxx]])
        root = fmap.get_root()
        root.header.add_child(Element(f"<style>{_CSS}</style>"))
        root.header.add_child(
            Element(
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(self.title)}</title>"
            )
        )
        lang = self.lang
        paras = "".join(f"<p>{esc(s)}</p>" for s in self.sentences)
        method = "".join(f"<div>{esc(m)}</div>" for m in self.method if m)
        method_html = (
            f"<details><summary>{word('method', lang)}</summary>{method}</details>"
            if method
            else ""
        )
        label = f'<p class="ln-label">{esc(self.label)}</p>' if self.label else ""
        panel = (
            f'<div id="ln-panel" class="ln-box" lang="{"zh-CN" if lang == "zh" else "en"}">'
            f'<button class="ln-fold" type="button">{word("summary", lang)}</button>'
            f'<div class="ln-body"><h1>{esc(self.title)}</h1>{paras}{label}{method_html}'
            "</div></div>"
        )
        layers = (
            f'<div id="ln-layers" class="ln-box"><button class="ln-fold" type="button">'
            f'{word("layers", lang)}</button><div class="ln-body"></div></div>'
        )
        legend = (
            f'<div id="ln-legend" class="ln-box"><button class="ln-fold" type="button">'
            f'{word("legend", lang)}</button><div class="ln-body">{"".join(self.legends)}'
            "</div></div>"
            if self.legends
            else ""
        )
        root.html.add_child(Element(panel + layers + legend))
        spec = [
            {"group": s.group, "name": s.name, "data": s.data, "styles": s.styles,
             "show": s.show, "features": s.features}
            for s in self.layers
        ]  # fmt: skip
        fit = [[miny, minx], [maxy, maxx]]
        js = _JS % {"map": fmap.get_name(), "layers": script_json(spec), "bounds": script_json(fit)}
        root.script.add_child(Element(js))
        return fmap

    def save(self, path: str | Path) -> Path:
        """Write the page whole or not at all."""
        return atomic_write_text(path, self.render())


def basemap_layers(page: MapPage, outlines: Outlines, *, show_counties: bool = True) -> None:
    """The light basemap drawn from embedded outlines: province, cities (with names), counties."""
    lang = page.lang
    group = word("basemap", lang)
    page.add(
        group,
        word("province", lang),
        outlines.province,
        styles=[{"color": "#6b7b8c", "weight": 2.2, "fillColor": "#fbfaf6", "fillOpacity": 1.0}],
    )
    page.add(
        group,
        word("counties", lang),
        outlines.counties[["geometry"]],
        styles=[{"color": "#b5bdc6", "weight": 0.6, "fill": False}],
        show=show_counties,
    )
    page.add(
        group,
        word("cities", lang),
        outlines.cities[["geometry"]],
        styles=[{"color": "#7d8a99", "weight": 1.4, "fill": False}],
    )
    labels = gpd.GeoDataFrame(
        {"city": outlines.cities["city"]},
        geometry=[shapely.point_on_surface(g) for g in outlines.cities.geometry],
        crs="EPSG:4326",
    )
    page.add(
        group,
        word("city_names", lang),
        labels,
        styles=[{}],
        label=[str(c) for c in labels["city"]],
    )


def ramp(values: Sequence[float] | np.ndarray, colours: Sequence[str]) -> tuple[list[int], list]:
    """Class of each value on ``len(colours)`` equal-count classes, and the class breaks."""
    vals = np.asarray(values, dtype=float)
    k = len(colours)
    finite = vals[np.isfinite(vals)]
    if finite.size == 0:
        return [0] * len(vals), [0.0] * (k + 1)
    breaks = list(np.unique(np.quantile(finite, np.linspace(0, 1, k + 1))))
    if len(breaks) < 2:
        breaks = [breaks[0], breaks[0]]
    idx = np.clip(np.searchsorted(breaks[1:-1], vals, side="right"), 0, len(breaks) - 2)
    return [int(i) for i in idx], breaks


def frame_bounds(frames: Sequence[pd.DataFrame]) -> tuple[float, float, float, float]:
    """The joint bounds of GeoDataFrames (EPSG:4326)."""
    boxes = np.array([f.total_bounds for f in frames if len(f)])
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )
