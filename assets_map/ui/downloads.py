"""Download buttons for a set of sites, in every format the export code writes."""
from __future__ import annotations

import hashlib

import streamlit as st

from assets_map.io.downloads import FORMATS, download
from assets_map.io.report import InputError
from assets_map.ui import shared, state

CACHE = "_download_cache"


def buttons(sites, *, what: str, key: str) -> None:
    """A format choice and one download button for ``sites`` (built once per data, rows and format)."""
    fmt = st.radio("Format", list(FORMATS), format_func=lambda f: FORMATS[f][0], horizontal=True, key=f"{key}_fmt")
    ids = "|".join(map(str, sites["asset_id"]))
    cache_key = (state.data_version(), hashlib.sha1(ids.encode()).hexdigest(), fmt)
    hit = st.session_state.get(CACHE)
    if not hit or hit[0] != cache_key:
        name = f"assets-map-{what}" + ("-fictional-demo" if state.is_demo() else "")
        try:
            hit = (cache_key, download(sites, fmt, name=name, settings=state.analysis().settings))
        except (InputError, ValueError) as exc:
            st.error(f"Could not prepare the {FORMATS[fmt][0]} file: {shared.md(exc)}")
            return
        st.session_state[CACHE] = hit
    filename, data, mime, notes = hit[1]
    st.download_button(f"Download {len(sites)} sites as {FORMATS[fmt][0]}", data, file_name=filename, mime=mime,
                       key=f"{key}_button", type="primary", on_click="ignore")
    for n in notes:
        st.caption(shared.md(n))
    if state.is_demo():
        st.caption("This is the fictional demo: every organisation and address in the file is marked (fictional).")
