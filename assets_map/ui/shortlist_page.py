"""Shortlist page: the sites a user has picked, kept through the session, with their cards and downloads."""
from __future__ import annotations

import streamlit as st

from assets_map.ui import downloads, shared, state
from assets_map.ui.map_page import TABLE_COLUMNS


def render() -> None:
    """The Shortlist page: the sites the visitor kept this session, to review and download."""
    st.title("Your shortlist")
    shared.banner()
    a = state.analysis().assets
    ids = [i for i in state.shortlist() if i in set(a["asset_id"])]
    st.markdown(f"**{len(ids)} sites on your shortlist.** Add sites from their card on the Map page. "
                "The shortlist lasts while this browser tab is open: download it to keep it.")
    if not ids:
        st.info("Your shortlist is empty. Open a site's card on the Map page and choose **Add to shortlist**.")
        return
    rows = a.set_index("asset_id").loc[ids].reset_index()
    table = rows[[c for c in TABLE_COLUMNS if c in rows.columns]].rename(columns=TABLE_COLUMNS)
    st.dataframe(table, hide_index=True, width="stretch")
    labels = dict(zip(rows["asset_id"], rows["name"].astype(object).where(rows["name"].notna(), "(no name)"), strict=True))
    c1, c2 = st.columns([2, 1])
    which = c1.selectbox("Site", ids, format_func=lambda i: f"{labels.get(i, i)} ({i})", key="sl_site")
    c2.button("Remove from shortlist", key="sl_remove", on_click=state.remove_from_shortlist, args=(which,))
    if st.button("Clear the shortlist", key="sl_clear"):
        st.session_state[state.SHORTLIST] = []
        st.rerun()
    st.subheader("Download the shortlist")
    downloads.buttons(rows, what="shortlist", key="sl_dl")
    result = state.analysis()
    st.download_button("Download a printable site pack of the whole shortlist (HTML)",
                       lambda: shared.pack_html(result, ids), file_name="site-pack-shortlist.html",
                       mime="text/html", key="sl_pack", on_click="ignore")
    st.subheader("Site card")
    shared.render_card(which, key="slcard")
