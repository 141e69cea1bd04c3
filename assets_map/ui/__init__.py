"""Streamlit pages: thin, one per user journey; they call the engine and draw widgets."""
