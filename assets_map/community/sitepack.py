"""Site pack: a one-page printable report (HTML and PDF) for a site, or a shortlist of sites.

What a community group takes to the owner: a map extract, the facts, why the
site is flagged, the need around it, partners nearby, the routes to community
ownership with next steps, data quality and dates, and what the map cannot do.

* The map extract is a static PNG drawn with matplotlib from the geometries
  (need areas by decile, the catchment, the site, the partner facilities
  numbered as in the table): no web tiles, so it works offline and prints.
* Every value shown is HTML-escaped; the image is embedded as a ``data:`` URI,
  so the HTML is one self-contained file.
* The PDF is rendered from the same HTML by WeasyPrint with a URL fetcher that
  refuses everything but ``data:`` URIs: a value in a register can never make
  the renderer fetch a file or a URL.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
from typing import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map import __version__
from assets_map.community.catchment import DEFAULT_CATCHMENT_M, catchment_need, lsoa_need_text
from assets_map.community.partners import DEFAULT_WALK_M, DISTANCE_NOTE, partners_nearby, summarise_partners
from assets_map.community.routes import MAP_CANNOT, RULES_AS_AT, routes_for
from assets_map.community.sitecard import owner_contact
from assets_map.engine.constraints import site_constraints
from assets_map.io.report import InputError, esc
from assets_map.maps.draw import DECILE_COLOURS
from assets_map.schema import DISPLAY_CRS, MEASURE_CRS, value_words

KIND_COLOURS = {"library": "#1b9e77", "GP practice": "#d95f02", "school or college": "#7570b3",
                "community hub": "#e7298a", "leisure centre": "#66a61e"}
MAX_PARTNERS_SHOWN = 8


def select_sites(assets: gpd.GeoDataFrame, ids: Iterable[str], *, id_column: str = "asset_id") -> gpd.GeoDataFrame:
    """The rows of ``assets`` with these ids, in the order given; unknown ids are refused together."""
    ids = [str(i) for i in ids]
    if not ids:
        raise InputError("choose at least one site for the pack")
    known = assets[id_column].astype(str)
    missing = [i for i in ids if i not in set(known)]
    if missing:
        raise InputError(f"no site with id {', '.join(missing[:10])} in the data loaded")
    pos = {v: k for k, v in enumerate(known)}
    return assets.iloc[[pos[i] for i in ids]]


def enrich(sites: gpd.GeoDataFrame, *, needs: gpd.GeoDataFrame | None = None,
           facilities: gpd.GeoDataFrame | None = None, walk_m: float = DEFAULT_WALK_M,
           catchment_m: float = DEFAULT_CATCHMENT_M, parcels: gpd.GeoDataFrame | None = None
           ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Add partners nearby and the catchment need to the sites (where not already there); return the partner pairs."""
    out = sites.to_crs(MEASURE_CRS)
    pairs = pd.DataFrame(columns=["site_id", "facility", "kind", "distance_m"])
    if facilities is not None and len(facilities):
        pairs = partners_nearby(out, facilities, distance_m=walk_m)
        out = summarise_partners(out, pairs, distance_m=walk_m)
    if needs is not None and "catchment_text" not in out.columns:
        out = catchment_need(out, needs, radius_m=catchment_m, parcels=parcels)
    return out, pairs


# --- the map extract -----------------------------------------------------------------------------

def map_png(site: pd.Series, *, crs=MEASURE_CRS, needs: gpd.GeoDataFrame | None = None,
            facilities: gpd.GeoDataFrame | None = None, partner_rows: pd.DataFrame | None = None,
            catchment_m: float = DEFAULT_CATCHMENT_M, size_in: float = 3.3, dpi: int = 150) -> bytes:
    """A static map of one site as PNG bytes: need by decile, the catchment, the site, numbered partners."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    geom = gpd.GeoSeries([site.geometry], crs=crs).to_crs(MEASURE_CRS).iloc[0]
    fig, ax = plt.subplots(figsize=(size_in, size_in), dpi=dpi)
    try:
        if geom is None or geom.is_empty:
            ax.text(0.5, 0.5, "This site has no location:\nit cannot be mapped", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9)
            ax.set_axis_off()
        else:
            # Never draw (or buffer) more detail than the image has pixels: a hostile or over-detailed
            # boundary costs what its vertices cost, not what the picture needs.
            tol = _pixel_tolerance(geom.bounds, catchment_m, size_in * dpi)
            geom = shapely.simplify(geom, tol, preserve_topology=False) if tol else geom
            zone = geom.buffer(catchment_m, quad_segs=32)
            minx, miny, maxx, maxy = zone.buffer(catchment_m * 0.15).bounds
            if needs is not None and len(needs):
                n = needs.to_crs(MEASURE_CRS)
                n = n[n.intersects(shapely.box(minx, miny, maxx, maxy))]
                n = n.set_geometry(shapely.simplify(n.geometry.values, tol, preserve_topology=False))
                dec = pd.to_numeric(n.get("need_decile"), errors="coerce")
                colours = [DECILE_COLOURS[int(d) - 1] if pd.notna(d) and 1 <= d <= 10 else "#ffffff" for d in dec]
                n.plot(ax=ax, color=colours, edgecolor="#777777", linewidth=0.4, alpha=0.75)
            gpd.GeoSeries([zone]).boundary.plot(ax=ax, color="#222222", linewidth=1.0, linestyle="--")
            if geom.geom_type in ("Point", "MultiPoint"):
                gpd.GeoSeries([geom]).plot(ax=ax, color="#d7191c", markersize=70, marker="*", edgecolor="black",
                                           linewidth=0.6, zorder=5)
            else:
                gpd.GeoSeries([geom]).plot(ax=ax, color="#d7191c", edgecolor="black", linewidth=0.8, zorder=5)
            if facilities is not None and partner_rows is not None and len(partner_rows):
                shown = partner_rows.head(MAX_PARTNERS_SHOWN)
                f = facilities.to_crs(MEASURE_CRS)
                for k, (_, p) in enumerate(shown.iterrows()):
                    hit = f[(f["facility"] == p["facility"]) & (f["kind"] == p["kind"])]
                    if hit.empty:
                        continue
                    pt = hit.geometry.iloc[int(np.argmin(hit.distance(geom).to_numpy()))]
                    ax.scatter([pt.x], [pt.y], s=42, color=KIND_COLOURS.get(p["kind"], "#444444"),
                               edgecolor="white", linewidth=0.6, zorder=6)
                    ax.annotate(str(k + 1), (pt.x, pt.y), fontsize=6, color="white", ha="center", va="center",
                                zorder=7, fontweight="bold")
            ax.set_xlim(minx, maxx)
            ax.set_ylim(miny, maxy)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.set_yticks([])
            # Scale bar: a round length near a quarter of the width.
            width = maxx - minx
            bar = next(v for v in (2000, 1000, 500, 250, 100, 50) if v <= width / 3)
            x0, y0 = minx + width * 0.05, miny + (maxy - miny) * 0.05
            ax.plot([x0, x0 + bar], [y0, y0], color="black", linewidth=2.5, solid_capstyle="butt")
            ax.text(x0 + bar / 2, y0 + (maxy - miny) * 0.02, f"{bar:g} m", ha="center", va="bottom", fontsize=6.5)
            ax.annotate("N", xy=(0.93, 0.93), xytext=(0.93, 0.80), xycoords="axes fraction", ha="center",
                        fontsize=8, arrowprops=dict(arrowstyle="-|>", color="black", lw=1))
            handles = [Patch(facecolor="#d7191c", edgecolor="black", label="the site"),
                       Patch(facecolor="none", edgecolor="#222222", linestyle="--", label=f"{catchment_m:g} m catchment"),
                       Patch(facecolor=DECILE_COLOURS[0], label="need decile 1 (most deprived)"),
                       Patch(facecolor=DECILE_COLOURS[9], edgecolor="#999999", label="need decile 10")]
            ax.legend(handles=handles, loc="upper left", fontsize=5.5, framealpha=0.85)
        fig.tight_layout(pad=0.2)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _pixel_tolerance(bounds, catchment_m: float, pixels: float) -> float:
    """Half a pixel in metres for a map of ``bounds`` with its catchment margin, ``pixels`` wide."""
    minx, miny, maxx, maxy = bounds
    width = max(maxx - minx, maxy - miny) + 2.3 * catchment_m
    return width / max(pixels, 1.0) / 2 if np.isfinite(width) else 0.0


# --- the HTML ------------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 11mm 11mm 10mm 11mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; font-size: 7pt; line-height: 1.22; color: #111; margin: 0; }
.page { page-break-after: always; }
.page:last-child { page-break-after: auto; }
h1 { font-size: 13pt; margin: 0 0 1mm 0; }
h2 { font-size: 8.2pt; margin: 1.5mm 0 0.6mm 0; border-bottom: 0.6pt solid #888; padding-bottom: 0.4mm; }
.sub { color: #444; margin-bottom: 1.5mm; }
.demo { background: #fff3cd; border: 0.6pt solid #c9a400; padding: 1mm 2mm; margin-bottom: 1.5mm; }
.top { display: flex; gap: 4mm; }
.top .map { flex: 0 0 66mm; }
.top .map img { width: 66mm; height: 66mm; border: 0.5pt solid #999; }
.top .facts { flex: 1; }
table { border-collapse: collapse; width: 100%; }
td, th { padding: 0.35mm 1mm; vertical-align: top; text-align: left; border-bottom: 0.3pt solid #ddd; }
th { width: 30%; color: #333; font-weight: bold; }
ul { margin: 0.5mm 0 0.5mm 4mm; padding: 0; }
li { margin: 0 0 0.3mm 0; }
.route { margin-bottom: 1mm; }
.route b.likely { color: #1a7f37; } .route b.possible { color: #9a6700; } .route b.notavailable { color: #a40e26; }
.small { font-size: 6pt; color: #333; }
.partners td { padding: 0.1mm 0.8mm; }
.constraints th { width: auto; } .constraints td { padding: 0.1mm 0.8mm; }
.cannot { border: 0.6pt solid #a40e26; padding: 1mm 2mm; margin-top: 1.5mm; }
.cols { display: flex; gap: 4mm; } .cols > div { flex: 1; }
"""


def _fmt_num(v, unit: str, digits: int = 0) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "not stated"
    if not np.isfinite(f):
        return "not stated"
    return f"{f:,.{digits}f} {unit}"


def _lonlat(geom) -> str:
    if geom is None or geom.is_empty:
        return "not placed"
    p = gpd.GeoSeries([geom.representative_point()], crs=MEASURE_CRS).to_crs(DISPLAY_CRS).iloc[0]
    return f"{p.y:.5f}, {p.x:.5f} (lat, lon, WGS84)"


def _facts(row) -> list[tuple[str, str]]:
    site_area = row.get("site_area_ha")
    geom = row.geometry
    measured = (geom.area / 10_000) if geom is not None and not geom.is_empty and geom.geom_type in ("Polygon", "MultiPolygon") else None
    area_txt = _fmt_num(site_area, "ha", 2)
    if measured:
        area_txt = f"{measured:,.2f} ha measured from the boundary" + (f" ({area_txt} stated)" if area_txt != "not stated" else "")
    def said(field: str) -> str:
        return value_words(field, row.get(field), "not stated")

    score = pd.to_numeric(pd.Series([row.get("underuse_score")]), errors="coerce").fillna(0.0).iloc[0]
    return [
        ("Owner", said("organisation")),
        ("Kind of owner", said("anchor_type")),
        ("Address", ", ".join(str(v) for v in (row.get("address"), row.get("postcode")) if isinstance(v, str) and v) or "not stated"),
        ("UPRN", said("uprn")),
        ("Tenure", said("tenure")),
        ("Land or building", said("holding_type")),
        ("Use (as the owner gives it)", said("use")),
        ("Status", said("status")),
        ("Floor area", _fmt_num(row.get("floor_area_m2"), "m²")),
        ("Site area", area_txt),
        ("Vacant since", said("vacant_since")),
        ("Condition / energy rating", said("condition")),
        ("Location", _lonlat(geom)),
        ("Priority", f"{value_words('priority', row.get('priority'), 'not flagged')} (underuse evidence {score:.2f}, "
                     f"confidence {value_words('underuse_confidence', row.get('underuse_confidence'), 'none')})"),
    ]


def _site_page(row, *, index: int, partner_rows: pd.DataFrame, png: bytes, settings: dict, as_of: dt.date,
               walk_m: float, catchment_m: float) -> str:
    name = row.get("name") if isinstance(row.get("name"), str) and row.get("name") else "(no name)"
    h: list[str] = ['<section class="page">']
    if settings.get("label"):
        h.append(f'<div class="demo">{esc(settings["label"])}</div>')
    h.append(f"<h1>{esc(name)}</h1>")
    h.append(f'<div class="sub">Site {esc(row.get("asset_id"))} &middot; held by {esc(row.get("organisation"))} &middot; '
             f'site pack made {as_of:%d %B %Y} by assets-map {esc(__version__)}</div>')
    img = base64.b64encode(png).decode("ascii")
    contact = ("How to reach the owner", owner_contact(row, settings.get("contacts")).text())
    facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in [*_facts(row)[:2], contact,
                                                                                  *_facts(row)[2:]])
    h.append(f'<div class="top"><div class="map"><img alt="Map of the site and its {esc(catchment_m)} m catchment" '
             f'src="data:image/png;base64,{img}"/></div><div class="facts"><table>{facts}</table></div></div>')
    if isinstance(row.get("why_ranked"), str):
        h.append("<h2>On your shortlist</h2><ul>" + f"<li>{esc(row['why_ranked'])}</li>" + "</ul>")
    reasons = [r for r in str(row.get("reasons") or "").split("; ") if r]
    h.append('<div class="cols"><div>')
    h.append("<h2>Why this site is here</h2><ul>" + "".join(f"<li>{esc(r)}</li>" for r in reasons) + "</ul>")
    need = [lsoa_need_text(row)]
    if isinstance(row.get("catchment_text"), str):
        need.append(row["catchment_text"])
    h.append("<h2>The need it would serve</h2><ul>" + "".join(f"<li>{esc(t)}</li>" for t in need) + "</ul>")
    h.append(f'<h2>Partners nearby ({esc(walk_m)} m, {esc(DISTANCE_NOTE)})</h2>')
    if partner_rows is None or not len(partner_rows):
        text = row.get("partners_text") if isinstance(row.get("partners_text"), str) else "no facility layers were loaded"
        h.append(f"<p>{esc(text)}</p>")
    else:
        rows = "".join(f"<tr><td>{k + 1}</td><td>{esc(p['facility'])}</td><td>{esc(p['kind'])}</td>"
                       f"<td>{esc(int(p['distance_m']))}&nbsp;m</td></tr>"
                       for k, (_, p) in enumerate(partner_rows.head(MAX_PARTNERS_SHOWN).iterrows()))
        more = len(partner_rows) - MAX_PARTNERS_SHOWN
        h.append(f'<table class="partners">{rows}</table>' + (f'<p class="small">and {more} more</p>' if more > 0 else ""))
    dq = [
        f"Located by: {value_words('location_quality', row.get('location_quality'), 'not placed on the map')}" + (f" ({row.get('location_note')})" if isinstance(row.get('location_note'), str) and row.get('location_note') else ""),
        f"Source: {value_words('source', row.get('source'), 'not stated')}, dated "
        f"{value_words('source_date', row.get('source_date'), 'not stated')}",
        f"Deprivation: English Indices of Deprivation {settings.get('iod_year') or '(year not stated)'}"
        + (f", {settings['deprivation_source']}" if settings.get("deprivation_source") else ""),
        f"Constraints: {row.get('constraints') or 'not checked'}",
        f"Routes summarised as at {RULES_AS_AT}; pack made {as_of:%d %B %Y}",
    ]
    table = _constraints_table(row)
    if table:  # the table says it: no second, longer line in the list
        dq = [t for t in dq if not t.startswith("Constraints: ")]
    h.append(table)
    h.append("<h2>Data quality and dates</h2><ul>" + "".join(f"<li>{esc(t)}</li>" for t in dq) + "</ul>")
    h.append("</div><div><h2>Routes to community ownership</h2>")
    for r in routes_for(row, as_of=as_of):
        cls = r.applies.replace(" ", "")
        who = f'<div class="small"><i>Who:</i> {esc(r.who_short or r.who)}</div>' if r.who_short or r.key == "acv" else ""
        h.append(f'<div class="route"><b class="{esc(cls)}">{esc(r.title)}: {esc(r.applies)}</b>. {esc(r.why)}{who}'
                 f'<ul>' + "".join(f"<li>{esc(s)}</li>" for s in r.next_steps[:3]) + "</ul>"
                 + ("".join(f'<div class="small">{esc(d)}</div>' for d in r.dates))
                 + f'<div class="small">{esc(r.law)}</div></div>')
    acv = (settings.get("acv") or {}).get(str(row.get("asset_id")), [])
    if acv:  # the council's ACV list as matched in the register (store.listings): the listing and its clocks
        h.append("<h2>Asset of Community Value: the clocks</h2><ul>" + "".join(f"<li>{esc(t)}</li>" for t in acv)
                 + "</ul>")
    h.append("</div></div>")
    h.append('<div class="cannot"><b>What this map cannot do</b><ul class="small">'
             + "".join(f"<li>{esc(t)}</li>" for t in MAP_CANNOT) + "</ul></div>")
    h.append("</section>")
    return "".join(h)


def _constraints_table(row) -> str:
    """The site's planning constraints: a short table (inside, near, clear, not checked) for the layers loaded.

    Kinds with no layer loaded are named on one line, never read as clear; what an inside answer means for a
    community use follows in one plain line each. Empty when no layer was loaded (the data-quality list says so).
    """
    lines = site_constraints(row)
    shown = [c for c in lines if c.source]
    if not shown:
        return ""
    rows = "".join(f'<tr><td>{esc(c.kind)}</td><td><b>{esc(c.answer)}</b></td><td>{esc(c.detail)} '
                   f'<span class="small">({esc(c.source)})</span></td></tr>' for c in shown)
    unloaded = [c.kind for c in lines if not c.source]
    h = ['<h2>Planning constraints</h2><table class="constraints">', rows, "</table>"]
    notes = [f"{c.kind.capitalize()}: {c.meaning}" for c in shown if c.answer == "inside"]
    if unloaded:
        notes.append(f"Not checked (no layer loaded; never read as clear): {', '.join(unloaded)}")
    h.append('<ul class="small">' + "".join(f"<li>{esc(t)}</li>" for t in notes) + "</ul>")
    return "".join(h)


def _shortlist_page(sites: gpd.GeoDataFrame, *, title: str, settings: dict, as_of: dt.date, brief_text: str | None) -> str:
    rows = []
    for k, (_, r) in enumerate(sites.iterrows()):
        rank = r.get("rank") if pd.notna(r.get("rank", np.nan)) else k + 1
        score = f"{r['fit_score']:.1f}" if "fit_score" in r and pd.notna(r.get("fit_score")) else ""
        rows.append(f"<tr><td>{esc(rank)}</td><td>{esc(r.get('name'))}</td><td>{esc(r.get('asset_id'))}</td>"
                    f"<td>{esc(r.get('organisation'))}</td><td>{esc(r.get('priority'))}</td><td>{esc(score)}</td>"
                    f"<td>{esc(r.get('partners_count'))}</td></tr>")
    label = f'<div class="demo">{esc(settings["label"])}</div>' if settings.get("label") else ""
    brief = f"<p>{esc(brief_text)}</p>" if brief_text else ""
    return (f'<section class="page">{label}<h1>{esc(title)}</h1><div class="sub">{len(sites)} sites &middot; made '
            f'{as_of:%d %B %Y} by assets-map {esc(__version__)}</div>{brief}<table><tr><th>#</th><th>Site</th><th>Id</th>'
            f'<th>Owner</th><th>Priority</th><th>Fit score</th><th>Partners nearby</th></tr>{"".join(rows)}</table>'
            '<p>One page per site follows.</p><div class="cannot"><b>What this map cannot do</b><ul class="small">'
            + "".join(f"<li>{esc(t)}</li>" for t in MAP_CANNOT) + "</ul></div></section>")


def site_pack_html(
    sites: gpd.GeoDataFrame,
    *,
    needs: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    settings: dict | None = None,
    title: str | None = None,
    brief_text: str | None = None,
    walk_m: float = DEFAULT_WALK_M,
    catchment_m: float = DEFAULT_CATCHMENT_M,
    as_of: dt.date | None = None,
    parcels: gpd.GeoDataFrame | None = None,
) -> str:
    """The site pack as one self-contained HTML document (one A4 page per site; a cover list for a shortlist).

    Parameters
    ----------
    sites : the site(s): rows of an analysis (e.g. :func:`select_sites` or a finder shortlist)
    needs : need areas (for the map and the catchment need)
    facilities : partner facilities (for the map and the partners table)
    settings : the analysis settings (``iod_year``, ``deprivation_source``, ``label`` for a demo)
    brief_text : the group's brief, printed on a shortlist's cover
    parcels : the analysis's freehold parcels (a site in one has its catchment measured from the parcel's outline)
    """
    if sites is None or not len(sites):
        raise InputError("choose at least one site for the pack")
    as_of = as_of or dt.date.today()
    settings = settings or {}
    enriched, pairs = enrich(sites, needs=needs, facilities=facilities, walk_m=walk_m, catchment_m=catchment_m,
                             parcels=parcels)
    pages = []
    if len(enriched) > 1:
        pages.append(_shortlist_page(enriched, title=title or "Shortlist of sites", settings=settings, as_of=as_of,
                                     brief_text=brief_text))
    for k, (_, row) in enumerate(enriched.iterrows()):
        prow = pairs[pairs["site_id"].astype(str) == str(row.get("asset_id"))] if len(pairs) else pairs
        png = map_png(row, needs=needs, facilities=facilities, partner_rows=prow, catchment_m=catchment_m)
        pages.append(_site_page(row, index=k, partner_rows=prow, png=png, settings=settings, as_of=as_of,
                                walk_m=walk_m, catchment_m=catchment_m))
    doc_title = title or (f"Site pack: {enriched.iloc[0].get('name')}" if len(enriched) == 1 else "Shortlist of sites")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(doc_title)}</title>'
            f'<meta name="generator" content="assets-map {esc(__version__)}"><style>{CSS}</style></head>'
            f'<body>{"".join(pages)}</body></html>')


def _data_only_fetcher():
    """A WeasyPrint URL fetcher that loads only inline ``data:`` URIs: never a file, never the network."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=["data"], allow_redirects=False, fail_on_errors=False)


#: What to install when the PDF cannot be drawn (WeasyPrint needs the Pango system libraries).
PDF_NEEDS = ("the PDF needs the Pango system libraries, which this machine lacks: on Debian or Ubuntu install them "
             "with `sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0` (macOS: `brew install pango`), then "
             "restart the app")


def pdf_unavailable() -> str | None:
    """Why no PDF can be drawn on this machine (what to install), or None when it can."""
    try:
        import weasyprint  # noqa: F401 - loading it loads Pango
    except (OSError, ImportError):
        return PDF_NEEDS
    return None


def html_to_pdf(document: str) -> bytes:
    """Render the site pack HTML as PDF bytes (WeasyPrint; nothing is fetched from outside the document)."""
    try:
        import weasyprint
    except (OSError, ImportError) as exc:  # the Pango libraries are missing
        raise RuntimeError(PDF_NEEDS) from exc
    return weasyprint.HTML(string=document, url_fetcher=_data_only_fetcher(), base_url=None).write_pdf()


def make_pack(sites: gpd.GeoDataFrame, *, pdf: bool = True, **options) -> tuple[str, bytes | None]:
    """The site pack's HTML and, with ``pdf``, its PDF: the whole job in one call (what the app runs bounded).

    ``options`` are those of :func:`site_pack_html`.
    """
    document = site_pack_html(sites, **options)
    return document, (html_to_pdf(document) if pdf else None)


def write_site_pack(document: str, *, html_path=None, pdf_path=None) -> list[str]:
    """Write the pack as HTML and/or PDF, atomically; return the paths written."""
    from assets_map.io.export import atomic_path

    written = []
    if html_path:
        with atomic_path(html_path) as tmp:
            tmp.write_text(document, encoding="utf-8")
        written.append(str(html_path))
    if pdf_path:
        data = html_to_pdf(document)
        with atomic_path(pdf_path) as tmp:
            tmp.write_bytes(data)
        written.append(str(pdf_path))
    return written
