"""The app's page icon, drawn here.

A Material icon as page icon makes the browser fetch it from Google's font servers, which an offline
council network blocks (and which would tell Google who opens the app).
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def app_icon():
    """A 64 x 64 map pin on the app's green, as a PIL image (Streamlit serves it from the app itself)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((2, 2, 61, 61), radius=12, fill=(27, 94, 32, 255))
    d.ellipse((18, 10, 46, 38), fill=(255, 255, 255, 255))
    d.polygon([(20, 30), (44, 30), (32, 54)], fill=(255, 255, 255, 255))
    d.ellipse((27, 19, 37, 29), fill=(27, 94, 32, 255))
    return img
