"""Planning constraint layers in: conservation areas, listed buildings, flood zones, green belt and the rest.

A constraint layer is any map layer the importer reads (GeoPackage, GeoJSON, Shapefile) or a table
(CSV, Excel) with its geometry as Well-Known Text, as planning.data.gov.uk publishes them: a
``geometry`` column (polygons) or a ``point`` column, hyphenated fields ``reference``, ``name``,
``entry-date``, ``start-date``, ``end-date``, ``organisation-entity``. Rows with an end date that has
passed are no longer in force and are left out (counted in the layer's notes).

Which constraint a file holds is, in order: stated (``conservation-area=FILE``), its ``dataset``
column, its file name, or its fields (e.g. a listed-building grade); a file that matches none is
refused naming the kinds it could be. Every file is opened by :func:`assets_map.io.sources.open_table`.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.io.normalise import fold
from assets_map.io.report import InputError
from assets_map.io.sources import excel_frame, open_table


@dataclass(frozen=True)
class ConstraintKind:
    """One kind of constraint: its planning.data.gov.uk dataset name, its words, and how "near" is measured.

    ``near_m`` is the distance within which a feature is reported as near (0: only inside counts);
    ``meaning`` is one plain line on what the constraint means for a community use; ``names`` are
    folded spellings a file name or ``dataset`` value may use; ``fields`` are folded headers only
    this kind's layers carry.
    """

    dataset: str
    label: str
    near_m: float
    meaning: str
    names: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


#: The standard list: every site gets one answer for each of these, in this order.
CONSTRAINT_KINDS: dict[str, ConstraintKind] = {k.dataset: k for k in (
    ConstraintKind("conservation-area", "conservation area", 50.0,
                   "demolition, and many changes to the outside, need the council's consent; trees are protected",
                   ("conservationarea", "conservationareas")),
    ConstraintKind("listed-building", "listed building", 50.0,
                   "works that change a listed building's character need listed building consent; its setting is "
                   "protected too", ("listedbuilding", "listedbuildings", "listedbuildingpoint", "listedbuildingpoints"),
                   ("listedbuildinggrade", "listentry", "listentrynumber")),
    ConstraintKind("listed-building-outline", "listed building outline", 50.0,
                   "works to a listed building need listed building consent; its setting is protected too",
                   ("listedbuildingoutline", "listedbuildingoutlines", "listedbuildingpolygon",
                    "listedbuildingpolygons")),
    ConstraintKind("scheduled-monument", "scheduled monument", 100.0,
                   "works need scheduled monument consent from Historic England; ground works may be ruled out",
                   ("scheduledmonument", "scheduledmonuments", "scheduledancientmonument", "scheduledancientmonuments")),
    ConstraintKind("article-4-direction-area", "article 4 direction area", 0.0,
                   "changes that elsewhere need no planning permission (such as some changes of use) need it here",
                   ("article4directionarea", "article4directionareas", "article4direction", "article4directions",
                    "article4", "articlefour"), ("article4direction",)),
    ConstraintKind("tree-preservation-zone", "tree preservation order area", 10.0,
                   "protected trees may not be felled, lopped or damaged without the council's consent",
                   ("treepreservationzone", "treepreservationzones", "treepreservationorder", "treepreservationorders",
                    "tpo", "tpos", "tpozone", "tpozones"), ("treepreservationorder",)),
    ConstraintKind("flood-risk-zone", "flood risk zone", 20.0,
                   "flood risk for a ground-floor use: a flood risk assessment and flood-resilient use are likely "
                   "needed", ("floodriskzone", "floodriskzones", "floodzone", "floodzones", "floodrisk",
                              "floodmapforplanning"), ("floodrisklevel", "floodrisktype")),
    ConstraintKind("green-belt", "green belt", 0.0,
                   "new buildings are strictly limited; reusing existing buildings is usually allowed",
                   ("greenbelt", "greenbelts"), ("greenbeltcore",)),
    ConstraintKind("site-of-special-scientific-interest", "site of special scientific interest", 200.0,
                   "works that could harm the site's wildlife or geology need Natural England's consent",
                   ("siteofspecialscientificinterest", "sitesofspecialscientificinterest", "sssi", "sssis")),
    ConstraintKind("local-nature-reserve", "local nature reserve", 100.0,
                   "land managed for wildlife and people: a use must fit the reserve's management",
                   ("localnaturereserve", "localnaturereserves", "lnr", "lnrs")),
    ConstraintKind("ancient-woodland", "ancient woodland", 50.0,
                   "irreplaceable habitat: harm to it is refused except in wholly exceptional cases; keep a buffer",
                   ("ancientwoodland", "ancientwoodlands", "ancientwoodlandinventory"), ("ancientwoodlandstatus",)),
    ConstraintKind("local-green-space", "local green space", 20.0,
                   "protected like green belt: building on it is ruled out except in very special circumstances",
                   ("localgreenspace", "localgreenspaces")),
    ConstraintKind("brownfield-land", "brownfield land", 0.0,
                   "on the brownfield land register: previously developed land the council judges suitable for housing",
                   ("brownfieldland", "brownfieldregister", "brownfieldlandregister", "brownfieldsites",
                    "brownfieldsite", "brownfield"), ("hazardoussubstances", "planningpermissionstatus")),
)}

#: Folded headers, in order of preference, of each canonical feature field.
_NAME = ("name", "sitename", "listname", "featurename", "title")
_REFERENCE = ("reference", "listentry", "listentrynumber", "listentryno", "listnumber", "naturalenglandsiteid",
              "siteid", "sitereference", "ref", "entity")
_GRADE = ("listedbuildinggrade", "grade", "listgrade")
_GEOMETRY = ("geometry", "wkt", "geom", "shape", "point")
#: Folded headers naming the local authority a row was published for (used as the layer's coverage).
_STATED = re.compile(r"^(areaname|localauthority|localauthorityname|lpaname|planningauthority|lad\d*nm|ltla\d*nm)$")
_WKT_HEAD = re.compile(r"^\s*(SRID=\d+;)?\s*(MULTI)?(POINT|LINESTRING|POLYGON)|^\s*GEOMETRYCOLLECTION", re.I)


def kind_named(text: str) -> str | None:
    """The constraint kind a stated name or ``dataset`` value names (``"conservation-area"``, ``"SSSI"``), or None."""
    f = fold(text)
    for k in CONSTRAINT_KINDS.values():
        if f == fold(k.dataset) or f == fold(k.label) or f in k.names:
            return k.dataset
    return None


def kind_from_file_name(name: str) -> str | None:
    """The kind a file's name names ("trafford_conservation_areas.geojson"), the longest spelling found; or None."""
    words = [w for w in re.split(r"[^a-z0-9]+", Path(str(name)).stem.lower()) if w]
    joined = "".join(words)
    best = None
    for k in CONSTRAINT_KINDS.values():
        for spelling in (fold(k.dataset), fold(k.label), *k.names):
            # A short spelling (sssi, tpo, lnr) must be a whole word; a long one may run into others.
            hit = spelling in words if len(spelling) <= 8 else spelling in joined
            if hit and (best is None or len(spelling) > len(best[1])):
                best = (k.dataset, spelling)
    return best[0] if best else None


def kind_from_fields(columns) -> str | None:
    """The kind a layer's own fields mark (a listed-building grade, a flood risk level), or None."""
    folded = {fold(c) for c in columns}
    found = [k.dataset for k in CONSTRAINT_KINDS.values() if folded & set(k.fields)]
    return found[0] if len(found) == 1 else None


def constraint_layer_kind(frame: pd.DataFrame, columns, name: str = "") -> str | None:
    """The constraint kind a layer is published as, told by its content or name, or None.

    Told, in this order, by a ``dataset`` column naming one kind in nine of ten rows (planning.data.gov.uk),
    by a file name naming a kind, or by the fields only one kind's layers carry. Brownfield land is never
    returned: a brownfield register is a register of sites.

    Parameters
    ----------
    frame : pandas.DataFrame
        The layer or table (its first 2,000 ``dataset`` values are looked at).
    columns : iterable of str
        Its headers.
    name : str
        The file name as given.

    Returns
    -------
    str or None
        The planning.data.gov.uk dataset name of the kind.
    """
    columns = [str(c) for c in columns]
    kind = None
    dataset = next((c for c in columns if fold(c) == "dataset"), None)
    if dataset is not None:
        v = frame[dataset].iloc[:2000].dropna().astype(str).str.strip()
        named = v[v != ""].map(kind_named)
        if len(named) and named.notna().mean() >= 0.9 and named.nunique() == 1:
            kind = named.iloc[0]
    kind = kind or kind_from_file_name(name) or kind_from_fields(columns)
    return None if kind == "brownfield-land" else kind


def parse_constraint_arg(text: str) -> tuple[str | None, str]:
    """``"conservation-area=FILE"`` -> (``"conservation-area"``, ``"FILE"``); ``"FILE"`` -> (None, ``"FILE"``).

    Parameters
    ----------
    text : the ``--constraints`` argument

    Returns
    -------
    (kind or None, path)

    Raises
    ------
    InputError : a ``KIND=`` prefix that is not a constraint kind (and the whole text is no file)
    """
    head, sep, rest = str(text).partition("=")
    if not sep or os.path.exists(text):
        return None, str(text)
    kind = kind_named(head)
    if kind is None:
        raise InputError(f"--constraints {text}: {head!r} is not a constraint kind; kinds: {', '.join(CONSTRAINT_KINDS)}")
    return kind, rest


def _first(columns: dict[str, str], candidates) -> str | None:
    return next((columns[c] for c in candidates if c in columns), None)


def _blank(values: pd.Series) -> np.ndarray:
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    return (text == "").to_numpy() | text.str.lower().isin(["nan", "none", "null", "<na>"]).to_numpy()


def _wkt_geometry(frame: pd.DataFrame, columns: dict[str, str], shown: str) -> gpd.GeoSeries:
    """The geometry of a table's rows from its WKT columns (``geometry`` first, then ``point``)."""
    cols = [columns[c] for c in _GEOMETRY if c in columns]
    cols = [c for c in cols if frame[c].astype(str).str.match(_WKT_HEAD).any()]
    if not cols:
        raise InputError("has no geometry: a constraint table needs its shapes as WKT in a 'geometry' or 'point' "
                         "column (as planning.data.gov.uk publishes them), or give a map layer", source=shown)
    geom = np.full(len(frame), None, dtype=object)
    for col in cols:  # the first column that has a shape for a row gives it
        todo = np.flatnonzero(pd.isna(geom) & ~_blank(frame[col]))
        if not len(todo):
            continue
        text = frame[col].iloc[todo].astype(str).str.strip().str.replace(r"^SRID=\d+;", "", regex=True).to_numpy()
        parsed = shapely.from_wkt(text, on_invalid="ignore")
        bad = todo[pd.isna(parsed)]
        if len(bad):
            rows = ", ".join(str(int(r) + 2) for r in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise InputError(f"row {rows}: the '{col}' value is not a shape in WKT (e.g. POLYGON ((x y, ...)))",
                             source=shown)
        geom[todo] = parsed
    gs = gpd.GeoSeries(geom, index=frame.index)
    placed = gs[~(gs.isna() | gs.is_empty)]
    if not len(placed):
        return gs.set_crs("EPSG:4326")
    x0, y0, x1, y1 = placed.total_bounds
    if -180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90:
        return gs.set_crs("EPSG:4326")
    if 0 <= x0 and x1 <= 800_000 and 0 <= y0 and y1 <= 1_400_000:
        return gs.set_crs("EPSG:27700")
    raise InputError(f"the WKT coordinates ({x0:.0f}, {y0:.0f} to {x1:.0f}, {y1:.0f}) are neither longitude/latitude "
                     "nor British National Grid metres", source=shown)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype(object).where(~_blank(values), None), errors="coerce", utc=True)


def _text(frame: pd.DataFrame, col: str | None) -> np.ndarray:
    if col is None:
        return np.full(len(frame), None, dtype=object)
    v = frame[col].astype(object)
    out = v.where(~_blank(v), None).to_numpy(dtype=object)
    # numbers read from a map layer (1067865.0) are references, not quantities
    return np.array([str(int(x)) if isinstance(x, float) and x.is_integer() else
                     (" ".join(str(x).split()) if x is not None else None) for x in out], dtype=object)


def _feature_kinds(frame: pd.DataFrame, columns: dict[str, str], stated: str | None, shown: str) -> np.ndarray:
    """Each row's kind: stated, else the ``dataset`` column, else the file name, else the fields."""
    if stated is not None:
        kind = kind_named(stated)
        if kind is None:
            raise InputError(f"{stated!r} is not a constraint kind; kinds: {', '.join(CONSTRAINT_KINDS)}", source=shown)
        return np.full(len(frame), kind, dtype=object)
    if "dataset" in columns:
        values = frame[columns["dataset"]].astype(object)
        named = np.array([kind_named(v) if isinstance(v, str) and v.strip() else None for v in values], dtype=object)
        if pd.notna(named).all() and len(named):
            return named
    kind = kind_from_file_name(shown) or kind_from_fields(columns.values())
    if kind is None:
        raise InputError("which constraint this layer holds could not be told from its file name, a 'dataset' column "
                         "or its fields; state it, e.g. --constraints conservation-area=FILE (kinds: "
                         f"{', '.join(CONSTRAINT_KINDS)})", source=shown)
    return np.full(len(frame), kind, dtype=object)


def read_constraint_layer(path: str | os.PathLike, *, name: str | None = None, kind: str | None = None,
                          layer: str | None = None, as_of: dt.date | None = None) -> gpd.GeoDataFrame:
    """Read one constraint file into features in British National Grid, each with its kind.

    Parameters
    ----------
    path : the file (opened by :func:`~assets_map.io.sources.open_table` only)
    name : the name shown in messages and recorded as the source (default: the file's name)
    kind : the constraint kind stated by the user (a planning.data.gov.uk dataset name such as
        ``"conservation-area"``, or its words); default: from the ``dataset`` column, the file name or the fields
    layer : the layer (GeoPackage) or sheet (Excel) to read
    as_of : the day end dates are compared with (default today): a row that ended on or before it is left out

    Returns
    -------
    GeoDataFrame : columns ``kind`` (dataset name), ``feature_name``, ``reference``, ``grade``, ``source``,
        ``source_date`` (the file's newest entry date, when it has them) and ``geometry`` (EPSG:27700);
        ``attrs``: ``source``, ``kinds``, ``authorities`` (the local authorities the layer says it covers),
        ``ended`` (rows left out as end-dated), ``no_geometry`` (rows with no shape) and ``notes``

    Raises
    ------
    InputError : the file is refused, in one line naming it
    """
    from assets_map.engine.geo import repair_invalid, to_crs_valid
    from assets_map.schema import MEASURE_CRS

    path = Path(path)
    shown = Path(str(name)).name if name else path.name
    t = open_table(path, name=shown, layer=layer)
    if t.format.startswith("excel"):
        t = excel_frame(t)
    frame = t.frame
    columns = {fold(c): c for c in frame.columns if c != "geometry" or not t.is_vector}
    if t.is_vector:
        if frame.crs is None:
            raise InputError("the layer has no coordinate system (CRS)", source=shown)
        geom = frame.geometry
    else:
        geom = _wkt_geometry(frame, columns, shown)
    kinds = _feature_kinds(frame, columns, kind, shown)
    notes = list(t.notes)
    today = pd.Timestamp(as_of or dt.date.today(), tz="UTC")
    keep = np.ones(len(frame), dtype=bool)
    ended = 0
    if "enddate" in columns:
        end_text = frame[columns["enddate"]]
        end = _dates(end_text)
        # planning.data.gov.uk ends an entry by giving it an end date: one that has come is no longer in force
        ended_mask = ~_blank(end_text) & ~(end > today).to_numpy()
        ended = int(ended_mask.sum())
        keep &= ~ended_mask
    no_geom = (geom.isna() | geom.is_empty).to_numpy() & keep
    keep &= ~no_geom
    if ended:
        notes.append(f"{ended} rows with an end date that has passed were left out (no longer in force)")
    if no_geom.any():
        notes.append(f"{int(no_geom.sum())} rows have no shape and could not be checked against")
    entry = _dates(frame[columns["entrydate"]]) if "entrydate" in columns else None
    source_date = entry[keep].max() if entry is not None and entry[keep].notna().any() else None
    stated_cols = [c for f, c in columns.items() if _STATED.match(f)]
    authorities = sorted({str(v).strip() for c in stated_cols for v in frame[c][keep].dropna() if str(v).strip()})
    shapes, _ = repair_invalid(gpd.GeoSeries(geom.to_numpy()[keep], crs=geom.crs))
    shapes, _ = to_crs_valid(shapes, MEASURE_CRS)  # checked again: reprojection can make a ring cross itself
    out = gpd.GeoDataFrame({
        "kind": kinds[keep],
        "feature_name": _text(frame, _first(columns, _NAME))[keep],
        "reference": _text(frame, _first(columns, _REFERENCE))[keep],
        "grade": _text(frame, _first(columns, _GRADE))[keep],
        "source": shown,
        "source_date": None if source_date is None else source_date.date().isoformat(),
    }, geometry=shapes.to_crs(MEASURE_CRS).to_numpy(), crs=MEASURE_CRS)
    out.attrs.update(source=shown, kinds=sorted(set(out["kind"])) or sorted(set(kinds)), authorities=authorities,
                     ended=ended, no_geometry=int(no_geom.sum()), notes=notes)
    return out


__all__ = ["CONSTRAINT_KINDS", "ConstraintKind", "kind_from_fields", "kind_from_file_name", "kind_named",
           "parse_constraint_arg", "read_constraint_layer"]
