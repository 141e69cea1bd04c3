"""assets-map: anchor institutions' land and buildings against community need.

The engine is plain functions over GeoDataFrames and never imports streamlit.
"""
__version__ = "0.1.0"
