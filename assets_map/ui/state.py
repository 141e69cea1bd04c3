"""Session state shared by the pages: the data in use, filters, selection, shortlist, map cache.

The demo analysis is public, so it (and its filter index) may live in
st.cache_resource, shared by all users (measured at 0.1 ms per rerun versus
1.6 s for st.cache_data on large frames). A user's own upload, its filter
index and every map built from it live only in their st.session_state.

The selected site is plain session state that the map, the sites table and
the "choose a site" box all set, so a non-map widget (and AppTest) can drive
the same selection as a click on the map.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid

import streamlit as st

from assets_map.engine.bounded import PUBLIC_JOB, JobBudget
from assets_map.engine.demo import DEMO_LABEL, load_demo
from assets_map.engine.filters import FilterIndex, Filters, options, prepare
from assets_map.engine.pipeline import Analysis
from assets_map.engine.places import Gazetteer, Place
from assets_map.io.sources import PUBLIC_LIMITS, Limits, current_limits
from assets_map.maps.draw import vendor_static
from assets_map.ui import identity

SELECTED = "selected_asset"
ANALYSIS = "analysis"
VERSION = "data_version"
FILTERS = "filters"
SHORTLIST = "shortlist"
MAP_CACHE = "_map_cache"
MAP_BASE_CACHE = "_map_base_cache"
DISPLAY_INDEX = "_display_index"
NEED_LAYERS = "_need_layers"
SITE_DISPLAY = "_site_display"
TABLE = "_sites_table"
SORTED_TABLE = "_sites_table_sorted"
NATIONAL_VIEW = "_national_view"
INDEX = "_filter_index"
FILTERED = "_filtered"
OPTIONS = "_filter_options"
DEMO_FLAG = "analysis_is_demo"
_LOG = logging.getLogger(__name__)
FILTER_WIDGETS = ("f_org", "f_type", "f_status", "f_priority", "f_ha", "f_floor", "f_decile", "f_area", "f_text",
                  "f_con_none", "f_con_not")
#: What each filter widget is called on screen (for "these filters were reset").
FILTER_LABELS = {"f_org": "Organisation", "f_type": "Owner type", "f_status": "Status", "f_priority": "Priority",
                 "f_ha": "Site area", "f_floor": "Floor area", "f_decile": "Need decile", "f_area": "Area",
                 "f_text": "Search", "f_con_none": "No constraint found", "f_con_not": "Not inside (checked)"}
FILTER_RESET = "_filter_reset"
FILTER_NOTE = "_filter_note"
NEAR = "near_place"
FOCUS = "_map_focus"
GAZETTEER = "_gazetteer"
VISIBLE = "_visible"


@st.cache_resource(show_spinner="Preparing the fictional demo…")
def _demo(version: str = "1") -> Analysis:
    return load_demo()


@st.cache_resource
def _demo_index(version: str = "1") -> FilterIndex:
    return prepare(_demo(version).assets)


@st.cache_resource
def _demo_options(version: str = "1") -> dict:
    return options(_demo(version).assets)


@st.cache_resource
def _static() -> str:
    return str(vendor_static())


def own_analysis() -> bool:
    """True when this session holds its own analysis (an upload, or the demo re-weighted)."""
    return ANALYSIS in st.session_state


def analysis() -> Analysis:
    """The analysis in use: the user's own if they loaded one, else the fictional demo."""
    _static()
    sweep_ended_sessions()
    if own_analysis():
        return st.session_state[ANALYSIS]
    return _demo()


def is_demo() -> bool:
    """True while the fictional demo is shown (as shipped, or re-weighted in this session)."""
    return not own_analysis() or bool(st.session_state.get(DEMO_FLAG))


def data_label() -> str:
    """The name of the data in use: the demo's label, or the label of the user's own analysis."""
    if not own_analysis():
        return DEMO_LABEL
    return st.session_state.get("analysis_label", "Your data")


def data_version() -> str:
    """Changes whenever the data in use changes (keys caches and widgets)."""
    return "demo" if not own_analysis() else st.session_state.setdefault(VERSION, uuid.uuid4().hex[:12])


def filter_index() -> FilterIndex:
    """The filter index of the data in use, built once per data version."""
    if not own_analysis():
        return _demo_index()
    version = data_version()
    cached = st.session_state.get(INDEX)
    if not cached or cached[0] != version:
        cached = (version, prepare(analysis().assets))
        st.session_state[INDEX] = cached
    return cached[1]


def filter_options() -> dict:
    """The choices the sidebar's filter widgets offer (:func:`assets_map.engine.filters.options`), once per data version.

    Every rerun of every page draws the filters: at 100,000 sites working the choices out took 0.4 s a rerun.
    """
    if not own_analysis():
        return _demo_options()
    return _kept(OPTIONS, data_version(), lambda: options(analysis().assets))


def use_data(result: Analysis | None, label: str | None = None, *, demo: bool = False) -> None:
    """Replace the data in use (``None``: back to the demo); clears filters, selection and caches.

    ``demo=True`` marks a re-scored copy of the fictional demo, so it stays labelled fictional.
    Filters that still apply to the new data are kept; the others are cleared, and the sidebar says which.
    """
    current = {k: st.session_state.get(k) for k in FILTER_WIDGETS}
    old_defaults = filter_defaults(analysis().assets)
    if result is None:
        for k in (ANALYSIS, "analysis_label", VERSION, DEMO_FLAG):
            st.session_state.pop(k, None)
    else:
        st.session_state[ANALYSIS] = result
        st.session_state["analysis_label"] = label or "Your data"
        st.session_state[VERSION] = uuid.uuid4().hex[:12]
        st.session_state[DEMO_FLAG] = demo
    for k in (SELECTED, FILTERS, SHORTLIST, MAP_CACHE, MAP_BASE_CACHE, INDEX, FILTERED, OPTIONS, DISPLAY_INDEX, NEED_LAYERS, SITE_DISPLAY, TABLE, SORTED_TABLE, NATIONAL_VIEW, NEAR, GAZETTEER, VISIBLE):
        st.session_state.pop(k, None)
    set_by_user = {k: v for k, v in current.items() if v is not None and _differs(v, old_defaults.get(k))}
    values, dropped = filters_for(analysis().assets, set_by_user)
    # Applied by the sidebar before it draws the widgets (a widget's value may only be set before it is drawn).
    st.session_state[FILTER_RESET] = values
    if dropped:
        st.session_state[FILTER_NOTE] = ("Filters that do not apply to the new data were cleared: "
                                         + ", ".join(dropped) + ".")


def _differs(value, default) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) != list(default)
    return value != default


def filter_defaults(assets) -> dict:
    """Every filter widget's value when nothing is filtered, for ``assets``."""
    opts = options(assets)
    return {"f_org": [], "f_type": [], "f_status": [], "f_priority": [], "f_area": [], "f_text": "",
            "f_decile": (1, 10), "f_ha": (0.0, float(opts["site_ha_max"])), "f_floor": (0.0, float(opts["floor_m2_max"])),
            "f_con_none": False, "f_con_not": []}


def filters_for(assets, current: dict) -> tuple[dict, list[str]]:
    """The filter widgets' values for new data: what still applies is kept; also the labels of what was dropped.

    A choice the new data does not hold (an organisation, a status...) is dropped; a size range
    is kept only where it fits inside the new data's sliders; a search only if it finds a site.
    """
    defaults = filter_defaults(assets)
    opts = options(assets)
    allowed = {"f_org": opts["organisations"], "f_type": opts["anchor_types"], "f_status": opts["statuses"],
               "f_priority": opts["priorities"], "f_area": list(opts["areas"]), "f_con_not": list(opts["constraint_kinds"])}
    values, dropped = dict(defaults), []
    for k, cur in current.items():
        if cur is None or not _differs(cur, defaults.get(k)) or (k in allowed and not cur):
            continue
        if k in allowed:
            keep = [v for v in cur if v in set(allowed[k])]
            values[k] = keep
            ok = len(keep) == len(cur)
        elif k in ("f_ha", "f_floor"):
            ok = float(cur[1]) <= defaults[k][1] and float(cur[0]) <= float(cur[1])
            values[k] = tuple(cur) if ok else defaults[k]
        elif k == "f_text":
            ok = bool(str(cur).strip()) and bool(prepare(assets).mask(Filters(text=str(cur))).mask.any())
            values[k] = str(cur) if ok else ""
        elif k == "f_con_none":  # only where the new data was checked against constraint layers
            ok = bool(opts["constraint_kinds"])
            values[k] = bool(cur) and ok
        else:  # need deciles mean the same in any data
            ok, values[k] = True, tuple(cur)
        if not ok:
            dropped.append(FILTER_LABELS.get(k, k))
    return values, dropped


def clear_filters() -> None:
    """Set every filter widget back to "all" (called before the widgets are drawn: a button's callback)."""
    for k, v in filter_defaults(analysis().assets).items():
        st.session_state[k] = v
    st.session_state.pop(FILTERS, None)
    st.session_state.pop(FILTER_RESET, None)
    st.session_state["f_area_q"] = ""  # the search that lists areas in a long area box


def apply_filter_reset() -> str | None:
    """Apply the filter values :func:`use_data` left for the sidebar; return the note saying what was cleared."""
    values = st.session_state.pop(FILTER_RESET, None)
    if values:
        for k, v in values.items():
            st.session_state[k] = v
    return st.session_state.pop(FILTER_NOTE, None)


def budgets() -> tuple[Limits, JobBudget]:
    """What this visitor's uploads and heavy jobs may use: the public budget unless the visitor is not public.

    A visitor whose role cannot be decided gets the public budget.
    """
    try:
        public = identity.visitor_role().is_public
    except Exception:  # noqa: BLE001 - an unreadable role must not open the larger budget
        public = True
    return (PUBLIC_LIMITS, PUBLIC_JOB) if public else (current_limits(), JobBudget())


_SWEEP_EVERY_S = 30.0
_last_sweep = [0.0]
_SWEEP_LOCK = threading.Lock()


def release_ended_sessions(session_mgr=None, uploaded_file_mgr=None, media_file_mgr=None) -> int:
    """Free what Streamlit still holds for sessions that have ended; return how many sessions were freed.

    Streamlit keeps a closed tab's session for reconnection (two minutes), then drops it
    from its storage without shutting it down, so the bytes of its uploads stay in the
    uploaded-file manager (and its downloads in the media manager) for the life of the
    server: 150 MB of CSV held 3.2 GB after the tab was closed. This frees them for every
    session that is neither connected nor kept for reconnection. The managers default to
    the running server's (the arguments are for tests).
    """
    if session_mgr is None:
        from streamlit import runtime

        if not runtime.exists():
            return 0
        rt = runtime.get_instance()
        session_mgr = getattr(rt, "_session_mgr", None)
        uploaded_file_mgr, media_file_mgr = rt.uploaded_file_mgr, rt.media_file_mgr
    storage = getattr(uploaded_file_mgr, "file_storage", None)
    if session_mgr is None or storage is None:
        return 0
    # Sessions past their reconnection time still sit in Streamlit's storage (with their session
    # state: a visitor's analysis) until something reaps them; reap them now and shut them down.
    kept = getattr(getattr(session_mgr, "_session_storage", None), "_cache", None)
    with getattr(session_mgr, "_storage_lock", None) or contextlib.nullcontext():  # Streamlit's own, when it has one
        expired = kept.expire() if hasattr(kept, "expire") else []
    for _, info in expired:
        info.session.shutdown()
    live = {info.session.id for info in session_mgr.list_sessions()}
    media = getattr(media_file_mgr, "_files_by_session_and_coord", {})  # downloads (e.g. a site pack's PDF)
    ended = {sid for sid in [*list(storage), *list(media)] if sid not in live}
    for sid in ended:
        uploaded_file_mgr.remove_session_files(sid)
        if media_file_mgr is not None:
            media_file_mgr.clear_session_refs(sid)
    if ended and media_file_mgr is not None:
        media_file_mgr.remove_orphaned_files()
    freed = len(ended | {sid for sid, _ in expired})
    if freed:
        _give_back_memory()
    return freed


def _give_back_memory() -> None:
    """Collect the freed sessions' objects and hand the freed heap back to the system (glibc only)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by the server instead
        pass


def sweep_ended_sessions() -> None:
    """:func:`release_ended_sessions` at most every 30 s (called on every page run; never fails the page)."""
    now = time.monotonic()
    with _SWEEP_LOCK:
        if now - _last_sweep[0] < _SWEEP_EVERY_S:
            return
        _last_sweep[0] = now
    try:
        freed = release_ended_sessions()
    except Exception:  # noqa: BLE001 - Streamlit internals changed: log it, never break the page
        _LOG.exception("could not release the uploads of ended sessions")
        return
    if freed:
        _LOG.info("released the uploads of %d ended session(s)", freed)


def filters() -> Filters:
    """The filters in use (none set by default)."""
    return st.session_state.get(FILTERS, Filters())


def set_filters(f: Filters) -> None:
    """Use ``f`` as the filters of this session."""
    st.session_state[FILTERS] = f


def filter_result():
    """The :class:`~assets_map.engine.filters.FilterResult` (mask, counts) of the filters in use.

    Worked out once per data version and filters: a page that needs only the mask (the national map) does
    not copy the filtered rows (:func:`filtered`) before it is drawn.
    """
    return _kept_result()[0]


def _kept_result() -> list:
    # [FilterResult, filtered frame or None], the frame taken on first use only.
    return _kept(FILTERED, (data_version(), filters().key()), lambda: [filter_index().mask(filters()), None])


def filtered():
    """(filtered assets, FilterResult) for the filters in use, kept until the data or the filters change."""
    kept = _kept_result()
    if kept[1] is None:
        a = analysis().assets
        kept[1] = a[kept[0].mask]
    return kept[1], kept[0]


def visible(asset_id: str) -> bool:
    """True when ``asset_id`` is in the data in use and the filters in use show it."""
    key = (data_version(), filters().key())
    hit = st.session_state.get(VISIBLE)
    if not hit or hit[0] != key:
        a = analysis().assets
        hit = (key, frozenset(a["asset_id"].astype(str).to_numpy()[filter_index().mask(filters()).mask]))
        st.session_state[VISIBLE] = hit
    return str(asset_id) in hit[1]


def selected() -> str | None:
    """The selected site's id, or None when none is selected; a site the filters hide is deselected."""
    sel = st.session_state.get(SELECTED)
    if sel is not None and not visible(sel):
        st.session_state[SELECTED] = None
        return None
    return sel


def select(asset_id: str | None) -> None:
    """Select ``asset_id`` (None clears the selection)."""
    st.session_state[SELECTED] = asset_id


def gazetteer() -> Gazetteer:
    """The places of the data in use (postcode directory, wards, need areas, the register's addresses)."""
    if not own_analysis():
        return _demo_gazetteer()
    return _kept(GAZETTEER, data_version(), lambda: _gazetteer_of(analysis()))


def _gazetteer_of(result: Analysis) -> Gazetteer:
    return Gazetteer(postcodes=result.places.get("postcodes"), wards=result.places.get("wards"), needs=result.needs,
                     assets=result.assets)


@st.cache_resource
def _demo_gazetteer(version: str = "1") -> Gazetteer:
    return _gazetteer_of(_demo(version))


def near() -> Place | None:
    """The place chosen as "near here" (by search or a click on the map), shared by the map and the finder."""
    return st.session_state.get(NEAR)


def set_near(place: Place | None, *, focus: bool = True) -> None:
    """Use ``place`` as "near here" (None: no place); ``focus``: the map then centres on it."""
    st.session_state[NEAR] = place
    if place is not None and focus:
        st.session_state[FOCUS] = ("near", place.label)


def focus_on_site(asset_id: str | None) -> None:
    """Select ``asset_id`` and centre the map on it."""
    select(asset_id)
    st.session_state[FOCUS] = ("site", asset_id)


def shortlist() -> list[str]:
    """The ids on this session's shortlist, in the order added."""
    return list(st.session_state.get(SHORTLIST, []))


def add_to_shortlist(asset_id: str) -> None:
    """Add ``asset_id`` to the shortlist (once)."""
    cur = shortlist()
    if asset_id not in cur:
        st.session_state[SHORTLIST] = cur + [asset_id]


def remove_from_shortlist(asset_id: str) -> None:
    """Take ``asset_id`` off the shortlist."""
    st.session_state[SHORTLIST] = [a for a in shortlist() if a != asset_id]


#: What :func:`_kept` shares between every session while the fictional demo is shown (it is public, the same for all).
_SHARED_FOR_DEMO = {MAP_CACHE, MAP_BASE_CACHE, SITE_DISPLAY}


@st.cache_resource(max_entries=64, show_spinner=False)
def _demo_kept(slot: str, key: tuple, _build):
    return _build()


def _kept(slot: str, key: tuple, build, keep: int = 1):
    """``build()``, kept in this session under ``slot`` for ``key`` (the last ``keep`` keys only).

    While the fictional demo is shown, the demo's maps are kept once for every session instead, so that a
    new visitor's first map is not worked out again.
    """
    if slot in _SHARED_FOR_DEMO and not own_analysis():
        return _demo_kept(slot, key, build)
    held = st.session_state.get(slot)
    if not isinstance(held, dict):
        held = {}
    if key in held:
        held[key] = held.pop(key)  # the most recently used last
        return held[key]
    value = build()
    while len(held) >= keep:
        held.pop(next(iter(held)))
    held[key] = value
    st.session_state[slot] = held
    return value


#: National maps kept per session: going back to a filter or view seen just before draws at once.
MAPS_KEPT = 4


def cached_map(key: tuple, build):
    """The prepared map data (maps.MapData) for ``key`` (data version, filters, need measure), built once per key.

    Kept in this session only (a private upload never reaches a shared cache); the last :data:`MAPS_KEPT` maps.
    """
    return _kept(MAP_CACHE, key, build, keep=MAPS_KEPT)


def cached_base_map(key: tuple, build):
    """The main map's filter-independent part for ``key``, built once: (:class:`maps.MapData`, place labels).

    Kept beside :func:`cached_map` (the filtered sites), in this session only; the last one only.
    """
    return _kept(MAP_BASE_CACHE, key, build)


def display_index(column: str, build):
    """The national map's :class:`assets_map.maps.national.DisplayIndex` of the data in use.

    It is built once per (data version, need column) and kept in this session (filters take :meth:`~DisplayIndex.subset` of it).
    """
    return _kept(DISPLAY_INDEX, (data_version(), column), build)


def need_layers(column: str) -> dict:
    """The national map's need layers already built for the data in use and need ``column``, kept in this session.

    It is the ``need_cache`` of :func:`assets_map.maps.national.national_map_data`.
    """
    return _kept(NEED_LAYERS, (data_version(), column), dict)


def site_display(build):
    """``build()``: the display geometry of every site of the data in use (:func:`assets_map.maps.draw.site_display`).

    Built once per data version and kept in this session, so a filter change does not reproject the sites.
    """
    return _kept(SITE_DISPLAY, data_version(), build)


def kept_table(key: tuple, build):
    """The sites listed on the Map page and its table's frame for ``key`` (data version, filters...), built once.

    Kept in this session (the last one only); the caller treats what it holds as read-only.
    """
    return _kept(TABLE, key, build)


def kept_sorted_table(key: tuple, build):
    """The Map page's paged sites table in the order chosen, for ``key`` (data, filters, order), built once."""
    return _kept(SORTED_TABLE, key, build)
