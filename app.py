"""assets-map: Streamlit entry point (page navigation, and the filters every page shares)."""
import streamlit as st

from assets_map.ui import (
    about_page,
    cases_page,
    data_page,
    download_page,
    finder_page,
    follow_page,
    map_page,
    reconcile_page,
    shared,
    shortlist_page,
    sitepack_page,
    summary_page,
)
from assets_map.ui.icon import app_icon

st.set_page_config(page_title="assets-map", page_icon=app_icon(), layout="wide")
pages = [
    st.Page(map_page.render, title="Map", url_path="map", default=True),
    st.Page(shortlist_page.render, title="Shortlist", url_path="shortlist"),
    st.Page(finder_page.render, title="Find a site", url_path="find"),
    st.Page(sitepack_page.render, title="Site pack", url_path="site-pack"),
    st.Page(summary_page.render, title="Summary", url_path="summary"),
    st.Page(download_page.render, title="Download", url_path="download"),
    st.Page(data_page.render, title="Your data", url_path="data"),
    st.Page("assets_map/ui/register_page.py", title="Register", url_path="register"),
    st.Page(reconcile_page.render, title="Land ownership", url_path="ownership"),
    st.Page(follow_page.render, title="Follow", url_path="follow"),
    st.Page(cases_page.render, title="Cases and ACV", url_path="cases"),
    st.Page(about_page.render, title="How it works", url_path="about"),
]
nav = st.navigation(pages)
shared.frame()  # drawn in the entry script so that the filters keep their values across pages
nav.run()
