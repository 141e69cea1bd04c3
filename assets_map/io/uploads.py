"""A user's own files, from uploaded bytes to a checked analysis, never touching the data in use.

Every file goes through :func:`assets_map.io.importer.read_inputs` (the CLI's ``analyse``
reads its paths through the same function): each upload is written to a private temporary
folder under a name the engine chooses and read by :func:`assets_map.io.importer.import_file`,
so equal bytes give the frames a file on disk gives; no user-chosen path or URL reaches
GDAL. Every file is read before anything fails, so one :class:`~assets_map.io.report.InputError`
lists every problem. The caller swaps the result in only after the user has
seen the validation report and confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from assets_map.engine.pipeline import Analysis, analyse
from assets_map.engine.summary import attach_wards
from assets_map.io import eric as _eric
from assets_map.io.constraints import CONSTRAINT_KINDS
from assets_map.io.importer import Upload, detect_kind, display_name, import_bytes, read_inputs, staged_upload
from assets_map.io.provenance import describe_input
from assets_map.io.report import ImportReport, InputError
from assets_map.io.sources import Limits, open_table, using_limits

#: What a user can upload, and what each is for.
KINDS = {
    "register": "Asset register (CSV, Excel, GeoPackage, GeoJSON or zipped Shapefile)",
    "boundaries": "Need area boundaries: LSOA polygons (GeoPackage, GeoJSON or zipped Shapefile)",
    "deprivation": "Deprivation data: English Indices of Deprivation by LSOA (CSV or Excel)",
    "postcodes": "Postcode directory (ONSPD-like CSV), to place rows that only have a postcode",
    "wards": "Wards for the summary: ward polygons, or an LSOA-to-ward lookup table",
}
REQUIRED = ("register", "boundaries")
#: The layer slots: several files each (exclusions, facilities) or one (the locations of NHS ERIC sites).
LAYER_SLOTS = {
    "exclude": "Exclusion layers: greenspace, allotments or other land never to flag (polygons)",
    "facilities": "Partner facilities: libraries, GP practices, schools, hubs (points or outlines)",
    "locations": "Locations of NHS sites (points or outlines with site codes or names), to place NHS ERIC sites",
    "constraints": "Planning constraints: conservation areas, listed buildings, flood zones, green belt... (any map "
                   "layer, or planning.data.gov.uk's CSV)",
    "parcels": "Freehold parcels: HM Land Registry INSPIRE Index Polygons (the per-authority zip as published, "
               "GeoJSON, GeoPackage or GeoParquet), to give each site its parcel and say who owns a parcel",
    "ownership": "Land Registry ownership: HM Land Registry's CCOD or OCOD file (UK or overseas companies and corporate "
                 "bodies; full, or a monthly change-only file), to find an anchor's titles and reconcile them",
}
#: Every slot by the short name the app shows.
SLOT_NAMES = {"register": "Asset register", "boundaries": "Need area boundaries", "deprivation": "Deprivation data",
              "postcodes": "Postcode directory", "wards": "Wards", "exclude": "Exclusion layers",
              "facilities": "Partner facilities", "locations": "Locations of NHS sites",
              "constraints": "Planning constraints", "parcels": "Freehold parcels",
              "ownership": "Land Registry ownership"}
# What each detected kind looks like, in words, and the slot it belongs in (None: no slot uses it).
_LOOKS = {
    "register": ("an asset register", "register"),
    "brownfield": ("a brownfield land register", "register"),
    "eric": ("NHS ERIC site data", "register"),
    "deprivation": ("an English Indices of Deprivation table (LSOA codes with scores, ranks or deciles)",
                    "deprivation"),
    "deprivation_layer": ("LSOA boundaries carrying deprivation", "boundaries"),
    "postcodes": ("a postcode directory", "postcodes"),
    "boundaries": ("LSOA boundaries", "boundaries"),
    "wards": ("ward boundaries", "wards"),
    "ward_lookup": ("an LSOA-to-ward lookup", "wards"),
    "parcels": ("HM Land Registry freehold parcels (INSPIRE Index Polygons)", "parcels"),
    "ownership": ("HM Land Registry's ownership file (CCOD/OCOD: titles and their proprietors)", "ownership"),
    "constraints": ("a planning constraint layer", "constraints"),
}
# The detected kinds each slot takes (a map layer of sites or land is detected as "register"; a constraint layer
# is never a register, but its polygons or points may serve as land to exclude or places, as the CLI reads them).
_TAKES = {"register": {"register", "brownfield", "eric"}, "boundaries": {"boundaries", "deprivation_layer"},
          "deprivation": {"deprivation", "deprivation_layer"}, "postcodes": {"postcodes"},
          "wards": {"wards", "ward_lookup", "postcodes"}, "exclude": {"register", "constraints"},
          "facilities": {"register", "constraints"}, "locations": {"register", "constraints"},
          "constraints": {"register", "brownfield", "constraints"}, "parcels": {"register", "parcels"},
          "ownership": {"ownership"}}


@dataclass
class Checked:
    """A user's files read and analysed, waiting for the user to confirm."""

    analysis: Analysis
    label: str
    notes: list[str] = field(default_factory=list)
    #: partner facilities uploaded with the files (None: none)
    facilities: gpd.GeoDataFrame | None = None
    #: what the user should know before using the files that the analysis itself does not say
    #: (its warnings stay those the CLI gives for the same files)
    cautions: list[str] = field(default_factory=list)

    @property
    def report(self) -> ImportReport:
        """The import report of the register file."""
        return self.analysis.reports[0]


@dataclass(frozen=True)
class Looks:
    """What an uploaded file looks like, from its content (:func:`assets_map.io.importer.detect_kind`).

    ``kind`` is the detected kind, ``words`` says it to the user, ``slot`` is the slot it belongs in
    (None: no slot uses it), ``geometry`` the kinds of shape of a map layer (empty for a table).
    """

    kind: str
    words: str
    slot: str | None
    geometry: frozenset = frozenset()
    #: a map layer that could be need areas: one polygon per area code, or deprivation columns
    area_layer: bool = False

    @property
    def is_map_layer(self) -> bool:
        """True for a file of shapes (points, lines or polygons) rather than a table."""
        return bool(self.geometry)


def looks_like(upload: Upload, *, limits: Limits | None = None) -> Looks:
    """What ``upload`` holds, decided from its content as the CLI decides it, and the slot it belongs in.

    Raises
    ------
    InputError : the file cannot be opened at all (one line naming it)
    """
    with staged_upload(upload.data, upload.name, limits) as (path, shown):
        prefer = (_eric.SITE_SHEET,) if path.suffix.lower() in (".xls", ".xlsx", ".ods") else ()
        table = open_table(path, name=shown, limits=limits, prefer_layers=prefer)
        found = detect_kind(table)
    if table.frame is None or not len(table.frame):  # nothing to tell it by: its reader says what is missing
        return Looks("empty", "an empty file (no rows or features)", None)
    shapes = frozenset()
    if table.is_vector:
        shapes = frozenset(str(t).replace("Multi", "").lower() for t in table.frame.geometry.geom_type.dropna().unique())
    if found.kind in _LOOKS:
        words, slot = _LOOKS[found.kind]
        if found.kind == "register" and shapes:
            words = "a map layer of sites or land (" + " and ".join(sorted(shapes)) + "s with no area codes)"
            slot = "facilities" if shapes == {"point"} else "exclude" if "polygon" in shapes else "register"
        return Looks(found.kind, words, slot, shapes, shapes == {"polygon"} and _could_be_areas(table.frame))
    if found.kind == "unknown":
        return Looks("unknown", found.looks_like, None, shapes)
    return Looks(found.kind, found.looks_like or found.why, None, shapes)


def _could_be_areas(frame: gpd.GeoDataFrame) -> bool:
    """Polygons that could be need areas under codes of their own: deprivation columns, or one feature per code.

    Need areas named by codes the kind detection does not know (a fictional town's, a future edition's) stay
    welcome in the boundaries slot; a layer of sites that all carry their district's code does not.
    """
    from assets_map.engine.needs import _CODE_HEADERS, _find, domain_of, measure_of

    cols = [str(c) for c in frame.columns if c != "geometry"]
    if sum(1 for c in cols if domain_of(c) and measure_of(c)) >= 2:
        return True
    code = _find(cols, _CODE_HEADERS)
    return code is not None and len(frame) > 1 and not frame[code].astype(str).duplicated().any()


def constraint_words(upload: Upload, *, limits: Limits | None = None) -> str:
    """What a planning constraint upload holds, in words: "21 conservation area features" (and rows left out).

    Raises
    ------
    InputError : the file is not read as a constraint layer (one line naming it)
    """
    layer, _ = import_bytes(upload.data, upload.name, kind="constraints", limits=limits)
    counts = layer["kind"].value_counts()
    words = ", ".join(f"{int(counts.get(k, 0))} {CONSTRAINT_KINDS[k].label} feature{'' if counts.get(k, 0) == 1 else 's'}"
                      for k in layer.attrs["kinds"])
    return "; ".join([words or "no features in force", *layer.attrs.get("notes", [])])


def _named(name: str, exc: InputError) -> str:
    """The reader's reason as one line that starts with the file's name."""
    text = str(exc)
    return text if text.startswith(name) else f"{name}: {text}"


def slot_problem(slot: str, upload: Upload, *, limits: Limits | None = None, looks: Looks | None = None) -> str | None:
    """One line saying why ``upload`` does not belong in ``slot`` (what it looks like, where it belongs), or None.

    ``slot`` is one of :data:`SLOT_NAMES`; ``looks`` is :func:`looks_like` of the upload when the caller
    has it already. A file that cannot be opened gives the reader's reason.
    """
    name = display_name(upload.name)
    if slot == "parcels":  # read as the CLI's --parcels reads it (GML in the published zip included), or why not
        try:
            read_parcel_upload(upload, limits=limits)
        except InputError as exc:
            return _named(name, exc)
        return None
    if slot == "constraints":  # read as the CLI's --constraints reads it: the kind named, or why not
        try:
            import_bytes(upload.data, upload.name, kind="constraints", limits=limits)
        except InputError as exc:
            return _named(name, exc)
        return None
    try:
        looks = looks or looks_like(upload, limits=limits)
    except InputError as exc:
        return _named(name, exc)
    here = SLOT_NAMES[slot]
    if slot == "ownership" and looks.kind == "ownership":  # the layout is HMLR's: its rows are read when checked
        return None
    if slot == "ownership" and looks.kind in ("unknown", "empty"):  # nothing to tell it by: its reader says why
        try:
            read_ownership_upload(upload, limits=limits)
        except InputError as exc:
            return _named(name, exc)
        return None
    fits = looks.kind in _TAKES[slot] or looks.kind == "empty" or (
        slot == "boundaries" and looks.kind == "register" and looks.area_layer)
    if fits and slot in ("exclude", "facilities", "locations") and not looks.is_map_layer:
        fits = slot == "locations" and looks.kind == "register"  # a CSV of site points can place ERIC sites
        if not fits:
            return (f"{name}: this looks like {looks.words}, a table; {here} must be a map layer "
                    f"(GeoPackage, GeoJSON or zipped Shapefile): give it in the {SLOT_NAMES[looks.slot]} slot")
    if fits and slot == "exclude" and "polygon" not in looks.geometry:
        return (f"{name}: this holds only {' and '.join(sorted(looks.geometry))}s; {here} must be polygons of land: "
                "give it in the Asset register or Partner facilities slot, whichever it is")
    if fits:
        return None
    if looks.kind == "unknown":  # no kind it could be told by: a register must say so; other slots' readers say why
        return f"{name}: {looks.words}" if slot == "register" else None
    if looks.kind == "register" and looks.is_map_layer:  # sites, land or facilities: the file cannot say which
        slots = ["register", "facilities"] + (["exclude"] if "polygon" in looks.geometry else [])
        names = [SLOT_NAMES[k] for k in slots if k != slot]
        where = "give it in the " + (", ".join(names[:-1]) + " or " if len(names) > 1 else "") + names[-1] + \
            " slot, whichever it is"
    elif looks.slot:
        where = f"give it in the {SLOT_NAMES[looks.slot]} slot"
    else:
        where = "assets-map does not use it: it needs LSOA boundaries and reads wards"
    return f"{name}: this looks like {looks.words}, not {_slot_noun(slot)}; {where}"


def read_parcel_upload(upload: Upload, *, limits: Limits | None = None):
    """An uploaded INSPIRE file read as ``analyse --parcels`` reads a file (:func:`~assets_map.io.landregistry.read_inspire`)."""
    from assets_map.io.landregistry import read_inspire

    with staged_upload(upload.data, upload.name, limits) as (path, shown):
        return read_inspire(path, name=shown, limits=limits)


def read_ownership_upload(upload: Upload, *, limits: Limits | None = None) -> pd.DataFrame:
    """An uploaded CCOD/OCOD file read as ``reconcile --ownership`` reads a file (:func:`~assets_map.io.landregistry.read_ownership`)."""
    from assets_map.io.landregistry import read_ownership

    with staged_upload(upload.data, upload.name, limits) as (path, shown):
        return read_ownership(path, name=shown, limits=limits)


def read_alias_upload(upload: Upload, *, limits: Limits | None = None) -> pd.DataFrame:
    """An uploaded alias table read as ``reconcile --aliases`` reads a file (:func:`~assets_map.community.ownership.read_aliases`)."""
    from assets_map.community.ownership import read_aliases

    with staged_upload(upload.data, upload.name, limits) as (path, shown):
        return read_aliases(path, name=shown)


def ownership_verdict(upload: Upload, *, limits: Limits | None = None) -> str:
    """One line saying what an uploaded CCOD/OCOD file holds ("... looks like HM Land Registry CCOD file (full): ...").

    Raises
    ------
    InputError : the file is not read as HM Land Registry's ownership layout (one line naming it and the row)
    """
    from assets_map.community.ownership import ownership_summary

    own = read_ownership_upload(upload, limits=limits)
    return f"{display_name(upload.name)}: looks like {ownership_summary(own)[0]}"


def _slot_noun(slot: str) -> str:
    return {"register": "an asset register", "boundaries": "need area boundaries (LSOA polygons)",
            "deprivation": "deprivation data", "postcodes": "a postcode directory", "wards": "wards",
            "exclude": "an exclusion layer", "facilities": "a partner facility layer",
            "locations": "a locations layer", "ownership": "HM Land Registry's ownership file (CCOD/OCOD)"}[slot]


def read_ward_source(upload: Upload) -> tuple[str, gpd.GeoDataFrame | pd.DataFrame]:
    """A ward layer (polygons) or an LSOA -> ward lookup: ``("wards", gdf)`` or ``("lookup", df)``."""
    frame, _ = import_bytes(upload.data, upload.name, kind="wards")
    return frame.attrs["ward_form"], frame


def with_wards(analysis: Analysis, upload: Upload, *, limits: Limits | None = None) -> tuple[Analysis, str]:
    """A copy of ``analysis`` whose assets carry ``ward_code``/``ward_name`` from the upload, and a note.

    ``limits`` is the upload budget (e.g. :data:`~assets_map.io.sources.PUBLIC_LIMITS`; None: the limits in force).
    """
    with using_limits(limits):
        kind, src = read_ward_source(upload)
    assets = attach_wards(analysis.assets, **({"wards": src} if kind == "wards" else {"lookup": src}))
    matched = int(assets["ward_code"].notna().sum())
    name = display_name(upload.name)
    if matched == 0:
        raise InputError("no site falls in any ward it lists (is it the right area, and the right LSOA edition?)",
                         source=name)
    out = analysis.replace(assets=assets, places={**analysis.places, **({"wards": src} if kind == "wards" else {})})
    out.settings["wards"] = name
    how = "by ward polygons" if kind == "wards" else "by the LSOA-to-ward lookup"
    return out, f"{name}: {matched} of {len(assets)} sites given a ward ({how})"


def check_uploads(files: dict[str, Upload], *, weights: dict[str, float] | str | None = None,
                  limits: Limits | None = None, exclude: list[Upload] = (), facilities: list[Upload] = (),
                  locations: Upload | None = None, iod_year: int | None = None,
                  constraints: list[Upload] = (), parcels: list[Upload] = (),
                  ownership: list[Upload] = ()) -> Checked:
    """Read and analyse a user's files; raise one InputError listing every problem.

    The app's "Check these files": the same reading and the same :func:`~assets_map.engine.pipeline.analyse`
    as the CLI's ``analyse`` with the same files and options, so the result is the CLI's.

    Parameters
    ----------
    files : uploads by kind (see :data:`KINDS`); ``register`` and ``boundaries`` are required
    weights : domain weights for the composite need (default: the overall IMD)
    limits : the budget every file is read under (e.g. :data:`~assets_map.io.sources.PUBLIC_LIMITS`
        for a public visitor; None: the limits in force)
    exclude : exclusion layers (greenspace, allotments) whose land is never flagged, as the
        CLI's ``--exclude``; kept with the result for every later re-scoring
    facilities : partner facility layers (libraries, GP practices, ...), as ``--facilities``
    locations : points or polygons with site codes or names placing NHS ERIC sites, as ``--locations``
    iod_year : the IoD edition when the deprivation data does not state it, as ``--iod-year``
    constraints : planning constraint layers, as ``--constraints`` (the kind from each file's dataset column,
        name or fields)
    parcels : HM Land Registry INSPIRE Index Polygons, as ``--parcels``: each site gets the freehold parcel it
        lies in; every parcel read is kept in ``result.places["parcels"]`` for the map ("who owns this?")
    ownership : HM Land Registry's CCOD/OCOD files, as ``reconcile --ownership``: the full files' rows are kept in
        ``result.places["ownership"]``, the change-only files' in ``result.places["ownership_changes"]``

    Returns
    -------
    Checked : the analysis (with the register's import report), not yet in use

    Raises
    ------
    InputError : every problem in one line each: a file in a slot it does not belong in (what it
        looks like and where it belongs), a file that cannot be read, a register none of whose
        placed sites lies in any of the need areas
    """
    with using_limits(limits):
        return _check_uploads(files, weights, list(exclude), list(facilities), locations, iod_year, list(constraints),
                              list(parcels), list(ownership))


def _check_uploads(files: dict[str, Upload], weights, exclude: list[Upload], facilities: list[Upload],
                   locations: Upload | None, iod_year: int | None, constraints: list[Upload] = (),
                   parcels: list[Upload] = (), ownership: list[Upload] = ()) -> Checked:
    unknown = sorted(set(files) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown upload kinds: {unknown}")
    problems: list[str] = [f"no {SLOT_NAMES[k].lower()} was uploaded" for k in REQUIRED if k not in files]
    placed_in = [(k, u) for k, u in files.items()] + [("exclude", u) for u in exclude] + \
        [("facilities", u) for u in facilities] + ([("locations", locations)] if locations is not None else []) + \
        [("constraints", u) for u in constraints] + [("parcels", u) for u in parcels] + \
        [("ownership", u) for u in ownership]
    # A file in the wrong slot: say what it is and where it goes, and never read it as what it is not.
    wrong = {(k, id(u)): p for k, u, p in ((k, u, slot_problem(k, u)) for k, u in placed_in) if p}
    problems += list(dict.fromkeys(wrong.values()))
    files = {k: u for k, u in files.items() if (k, id(u)) not in wrong}
    exclude = [u for u in exclude if ("exclude", id(u)) not in wrong]
    facilities = [u for u in facilities if ("facilities", id(u)) not in wrong]
    constraints = [u for u in constraints if ("constraints", id(u)) not in wrong]
    locations = None if ("locations", id(locations)) in wrong else locations
    parcel_sets = _read_each("parcels", parcels, read_parcel_upload, wrong, problems)
    titles = _read_ownership(ownership, wrong, problems)
    notes: list[str] = []
    layer = None
    if locations is not None:
        try:
            with staged_upload(locations.data, locations.name, None) as (path, shown):
                layer, _ = _eric.read_locations(path)
            layer.attrs["source"] = display_name(locations.name)
        except InputError as exc:
            problems.append(str(exc))
    partners = None
    try:
        frames = [import_bytes(u.data, u.name, kind="facilities")[0] for u in facilities]
        if frames:
            partners = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    except InputError as exc:
        problems.append(str(exc))
    read = read_inputs(files.get("register"), files.get("boundaries"), files.get("deprivation"),
                       postcodes=files.get("postcodes"), wards=files.get("wards"), exclude=exclude,
                       problems=problems, locations=layer, constraints=constraints)
    frame, report, bnd, dep = read.assets, read.report, read.boundaries, read.deprivation
    try:
        result = analyse(frame, bnd, dep, exclude=read.exclude, weights=weights, iod_year=iod_year,
                         constraints=read.constraints, parcels=parcel_sets,
                         boundaries_name=display_name(files["boundaries"].name))
    except InputError as exc:
        raise InputError(str(exc)) from None
    cautions = _require_overlap(result, display_name(files["register"].name), display_name(files["boundaries"].name))
    result.reports = [report]
    result.settings["inputs"] = {k: display_name(u.name) for k, u in files.items()}
    if locations is not None:
        result.settings["inputs"]["locations"] = display_name(locations.name)
    # each upload's name, size and SHA-256 while its bytes are here: the downloads' provenance records them
    result.settings["input_files"] = [describe_input("assets" if role == "register" else role,
                                                     (display_name(u.name), u.data)) for role, u in placed_in]
    if exclude:
        result.settings["exclude"] = read.names["exclude"]
    notes.append(f"{display_name(files['boundaries'].name)}: {len(bnd)} need areas")
    if dep is not None:
        year = result.settings.get("iod_year")
        notes.append(f"{dep.source}: English Indices of Deprivation {year or '(year not stated)'}"
                     + (" (the edition you chose)" if iod_year and not dep.year else "") + f", {len(dep.table)} areas")
    if read.postcodes is not None:
        notes.append(f"{display_name(files['postcodes'].name)}: {len(read.postcodes)} postcodes")
        result.places["postcodes"] = read.postcodes  # for the place search ("M32 0")
    for name, lay in zip(read.names.get("exclude", []), read.exclude, strict=True):
        notes.append(f"{name}: {len(lay[1])} areas of land never flagged")
    for name, lay in zip(read.names.get("constraints", []), read.constraints, strict=True):
        kinds = ", ".join(CONSTRAINT_KINDS[k].label for k in lay.attrs.get("kinds", []))
        notes.append(f"{name}: {len(lay)} {kinds} features checked against every site"
                     + "".join(f"; {n}" for n in lay.attrs.get("notes", [])))
    if partners is not None:
        notes.append(", ".join(display_name(u.name) for u in facilities) + f": {len(partners)} partner facilities")
    if parcel_sets:
        every = gpd.GeoDataFrame(pd.concat([p.frame for p in parcel_sets], ignore_index=True), crs=parcel_sets[0].frame.crs)
        result.places["parcels"] = every  # drawn at street zoom: a click on any parcel says who owns it
        given = int(result.assets["parcel_id"].notna().sum()) if "parcel_id" in result.assets else 0
        notes.append(", ".join(p.source for p in parcel_sets) + f": {len(every):,} freehold parcels; {given} of "
                     f"{len(result.assets)} sites lie in one" + "".join(f"; {n}" for p in parcel_sets for n in p.notes))
    notes += _keep_ownership(result, titles)
    if read.wards is not None:
        kind, src = read.wards.attrs["ward_form"], read.wards
        assets = attach_wards(result.assets, **({"wards": src} if kind == "wards" else {"lookup": src}))
        result.assets = assets
        result.settings["wards"] = display_name(files["wards"].name)
        if kind == "wards":
            result.places["wards"] = src  # drawn on the map and searchable by name
        notes.append(f"{display_name(files['wards'].name)}: {int(assets['ward_code'].notna().sum())} of "
                     f"{len(assets)} sites given a ward")
    label = f"Your data: {display_name(files['register'].name)}"
    result.settings["label"] = label
    return Checked(result, label, notes, partners, cautions)


def _read_each(slot: str, uploads: list[Upload], reader, wrong: dict, problems: list[str]) -> list:
    """Each upload of a slot read by ``reader`` (those in the wrong slot left out, every problem added to ``problems``)."""
    out = []
    for u in uploads:
        if (slot, id(u)) in wrong:
            continue
        try:
            out.append(reader(u))
        except InputError as exc:
            problems.append(str(exc))
    return out


def _read_ownership(ownership: list[Upload], wrong: dict, problems: list[str]) -> list[pd.DataFrame]:
    """The CCOD/OCOD uploads read (the ones in the wrong slot left out, every problem added to ``problems``)."""
    frames = _read_each("ownership", ownership, read_ownership_upload, wrong, problems)
    if frames and all(f.attrs.get("change_only") for f in frames):
        problems.append(", ".join(str(f.attrs.get("source")) for f in frames) + ": only change-only files were given "
                        "in the Land Registry ownership slot; give a full CCOD or OCOD file too (a change-only file "
                        "lists only what changed)")
    return frames


def _keep_ownership(result: Analysis, frames: list[pd.DataFrame]) -> list[str]:
    """Keep the ownership files' rows with the analysis (full and change-only apart) and say what they hold."""
    from assets_map.community.ownership import ownership_summary

    notes = []
    for kind, part in (("ownership", [f for f in frames if not f.attrs.get("change_only")]),
                       ("ownership_changes", [f for f in frames if f.attrs.get("change_only")])):
        if not part:
            continue
        joined = pd.concat(part, ignore_index=True)
        joined.attrs.update(source=", ".join(str(f.attrs.get("source")) for f in part),
                            change_only=kind == "ownership_changes", dataset=part[0].attrs.get("dataset"))
        result.places[kind] = joined
        notes += [f"{f.attrs.get('source')}: {line}" for f in part for line in ownership_summary(f)]
    return notes


def _require_overlap(result: Analysis, register: str, boundaries: str) -> list[str]:
    """Refuse a register none of whose placed sites lies in any need area (files for two different places).

    Returns the caution to show when fewer than half of them do.
    """
    a = result.assets
    placed = int((a.geometry.notna() & ~a.geometry.is_empty).sum())
    inside = int(a["need_area_code"].notna().sum()) if "need_area_code" in a.columns else 0
    if placed and not inside:
        raise InputError(f"none of the {placed} placed sites of {register} lies in any of the {len(result.needs)} need "
                         f"areas of {boundaries}: are they for the same place? Give the boundaries of the register's "
                         "area (or the whole of England)")
    if placed and inside < placed / 2:
        return [f"only {inside} of the {placed} placed sites of {register} lie in the need areas of {boundaries}: "
                "the others have no need score (are the boundaries for the whole area?)"]
    return []
