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
from assets_map.engine.filters import FilterIndex, Filters, prepare
from assets_map.engine.pipeline import Analysis
from assets_map.io.sources import PUBLIC_LIMITS, Limits, current_limits
from assets_map.maps.draw import vendor_static
from assets_map.ui import identity

SELECTED = "selected_asset"
ANALYSIS = "analysis"
VERSION = "data_version"
FILTERS = "filters"
SHORTLIST = "shortlist"
MAP_CACHE = "_map_cache"
DISPLAY_INDEX = "_display_index"
NATIONAL_VIEW = "_national_view"
INDEX = "_filter_index"
DEMO_FLAG = "analysis_is_demo"
_LOG = logging.getLogger(__name__)
FILTER_WIDGETS = ("f_org", "f_type", "f_status", "f_priority", "f_ha", "f_floor", "f_decile", "f_area", "f_text")


@st.cache_resource(show_spinner="Preparing the fictional demo…")
def _demo(version: str = "1") -> Analysis:
    return load_demo()


@st.cache_resource
def _demo_index(version: str = "1") -> FilterIndex:
    return prepare(_demo(version).assets)


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


def use_data(result: Analysis | None, label: str | None = None, *, demo: bool = False) -> None:
    """Replace the data in use (``None``: back to the demo); clears filters, selection and caches.

    ``demo=True`` marks a re-scored copy of the fictional demo, so it stays labelled fictional.
    """
    if result is None:
        for k in (ANALYSIS, "analysis_label", VERSION, DEMO_FLAG):
            st.session_state.pop(k, None)
    else:
        st.session_state[ANALYSIS] = result
        st.session_state["analysis_label"] = label or "Your data"
        st.session_state[VERSION] = uuid.uuid4().hex[:12]
        st.session_state[DEMO_FLAG] = demo
    for k in (SELECTED, FILTERS, SHORTLIST, MAP_CACHE, INDEX, DISPLAY_INDEX, NATIONAL_VIEW, *FILTER_WIDGETS):
        st.session_state.pop(k, None)


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


def filtered():
    """(filtered assets, FilterResult) for the filters in use."""
    a = analysis().assets
    res = filter_index().mask(filters())
    return a[res.mask], res


def selected() -> str | None:
    """The selected site's id, or None when none is selected or the filters hide it."""
    sel = st.session_state.get(SELECTED)
    if sel is not None and sel not in filter_index().asset_ids:
        return None
    return sel


def select(asset_id: str | None) -> None:
    """Select ``asset_id`` (None clears the selection)."""
    st.session_state[SELECTED] = asset_id


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


def _kept(slot: str, key: tuple, build):
    """``build()``, kept in this session under ``slot`` until ``key`` changes (the last one only)."""
    hit = st.session_state.get(slot)
    if hit and hit[0] == key:
        return hit[1]
    value = build()
    st.session_state[slot] = (key, value)
    return value


def cached_map(key: tuple, build):
    """The prepared map data (maps.MapData) for ``key`` (data version, filters, need measure), built once per key.

    Kept in this session only (a private upload never reaches a shared cache); the last map only.
    """
    return _kept(MAP_CACHE, key, build)


def display_index(column: str, build):
    """The national map's :class:`assets_map.maps.national.DisplayIndex` of the data in use.

    It is built once per (data version, need column) and kept in this session (filters take :meth:`~DisplayIndex.subset` of it).
    """
    return _kept(DISPLAY_INDEX, (data_version(), column), build)
