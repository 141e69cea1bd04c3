"""The facilities adapter: any point (or polygon) layer of community facilities, in one canonical shape.

Libraries, GP practices, schools, community hubs, leisure centres: the kind is read from the
layer's name or each row's type, names from the usual name columns, polygons become a point
inside them. Used by the importer (``kind="facilities"``) and by the partners and finder steps.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd

from assets_map.engine.geo import representative_points
from assets_map.io.report import InputError
from assets_map.schema import MEASURE_CRS

#: Facility kinds recognised from a layer's name or a ``type`` value, in plain words.
KIND_WORDS: tuple[tuple[str, str], ...] = (
    (r"librar", "library"),
    (r"\bgp\b|gp_|general[ _]practi|surgery|medical[ _]cent|health[ _]cent", "GP practice"),
    (r"school|college|academ", "school or college"),
    (r"community[ _]?hub|community[ _]cent|hub", "community hub"),
    (r"leisure|sports?[ _]cent|swimming", "leisure centre"),
)
_NAME_COLUMNS = ("name", "site_name", "facility", "community_hub", "establishment_name", "title", "label")


def facility_kind(text: object) -> str | None:
    """The plain-words facility kind a layer name or type value names, if any."""
    if not isinstance(text, str):
        return None
    low = text.lower()
    for pattern, kind in KIND_WORDS:
        if re.search(pattern, low):
            return kind
    return None


def prepare_facilities(layer: gpd.GeoDataFrame, *, label: str, kind: str | None = None) -> gpd.GeoDataFrame:
    """Canonical facilities (``facility``, ``kind``, ``subtype``, ``layer``, point geometry in EPSG:27700).

    The kind is, in order: ``kind`` if given; what the layer's ``label`` names
    (e.g. "general_practices" -> "GP practice"); what each row's ``type`` /
    ``kind`` / ``category`` value names; else the label itself. Polygons become a
    point inside them.
    """
    if layer.crs is None:
        raise InputError("the facility layer has no CRS", source=label)
    gdf = layer[~(layer.geometry.isna() | layer.geometry.is_empty)].to_crs(MEASURE_CRS)
    cols = {str(c).lower(): c for c in gdf.columns}
    name_col = next((cols[c] for c in _NAME_COLUMNS if c in cols), None)
    type_col = next((cols[c] for c in ("facility_type", "kind", "category", "type") if c in cols), None)
    stem = Path(label).stem
    by_label = kind or facility_kind(stem)
    subtype = [v if isinstance(v, str) and v else None for v in (gdf[type_col].tolist() if type_col else [None] * len(gdf))]
    if by_label:
        kinds = [by_label] * len(gdf)
    else:
        kinds = [facility_kind(v) or stem.replace("_", " ") for v in subtype]
    raw_names = gdf[name_col].tolist() if name_col else [None] * len(gdf)
    names = [str(n) if isinstance(n, str) and n.strip() else f"{k} {i + 1}" for i, (n, k) in enumerate(zip(raw_names, kinds, strict=True))]
    postcodes = [v if isinstance(v, str) else None for v in gdf[cols["postcode"]].tolist()] if "postcode" in cols else [None] * len(gdf)
    return gpd.GeoDataFrame({
        "facility": names, "kind": kinds, "subtype": subtype, "layer": label, "postcode": postcodes,
    }, geometry=representative_points(gdf.geometry).to_numpy(), crs=MEASURE_CRS)
