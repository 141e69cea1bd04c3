"""assets-map: Streamlit entry point (page navigation only)."""
import streamlit as st

from assets_map.ui import map_page

st.set_page_config(page_title="assets-map", page_icon="🗺️", layout="wide")
pages = [st.Page(map_page.render, title="Map", url_path="map", default=True)]
st.navigation(pages).run()
