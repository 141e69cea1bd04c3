"""Say where you are: find a postcode, street, place, ward or need area in the data loaded.

A community group knows "Stretford" or "M32 0", not a longitude. :class:`Gazetteer`
indexes what the data in use already holds, with no network:

* the postcode directory (full postcodes, and from them sectors such as ``M32 0`` and
  districts such as ``M32``), and the full postcodes of placed register rows;
* ward polygons (names and codes) and the need areas (LSOA names and codes);
* the streets and towns written in the register's addresses ("Kingsway Park, Davyhulme").

:meth:`Gazetteer.search` returns :class:`Place` s, best match first, each with a point and
a radius that covers it, so "near here" in the site finder and on the map is one thing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from assets_map.engine.geo import representative_points
from assets_map.schema import DISPLAY_CRS, MEASURE_CRS

_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_FULL = re.compile(rf"^({_OUTWARD})([0-9][A-Z]{{2}})$")
_SECTOR = re.compile(rf"^({_OUTWARD}) ?([0-9])$")
_DISTRICT = re.compile(rf"^{_OUTWARD}$")
#: Order of kinds among equally good matches (smaller first).
KIND_ORDER = {"postcode": 0, "postcode sector": 1, "postcode district": 2, "ward": 3, "town or place": 4,
              "street": 5, "need area": 6, "point on the map": 7}
#: Smallest and largest "near here" radius a place suggests (metres).
MIN_RADIUS_M, MAX_RADIUS_M = 400.0, 5000.0
_TO_WGS84 = Transformer.from_crs(MEASURE_CRS, DISPLAY_CRS, always_xy=True)
_TO_BNG = Transformer.from_crs(DISPLAY_CRS, MEASURE_CRS, always_xy=True)
_HOUSE_NUMBER = re.compile(r"^\s*(?:(?:flat|unit)\s+\w+\s+)?\d+[a-z]?(?:\s*[-–]\s*\d+[a-z]?)?\s+", re.I)
_STREET_WORDS = re.compile(r"\b(?:road|street|lane|avenue|drive|way|close|grove|place|crescent|terrace|walk|"
                           r"gardens|park|square|hill|court|row|parade|rise|view|mews|green|vale|brow|fold)\b", re.I)


@dataclass(frozen=True)
class Place:
    """A place found in the data: a name a person reads, its kind, a point and the radius it covers.

    Parameters
    ----------
    name : the place as the data names it ("M32 0JX", "Stretford & Humphrey Park")
    kind : one of :data:`KIND_ORDER`'s kinds
    lon, lat : a point for "near here" (WGS84)
    radius_m : a search radius that covers the place (metres, straight line)
    code : the ward or LSOA code, for those kinds
    """

    name: str
    kind: str
    lon: float
    lat: float
    radius_m: float
    code: str | None = None

    @property
    def label(self) -> str:
        """What a list of places shows: ``"Stretford & Humphrey Park (ward E05015257)"``."""
        code = f" {self.code}" if self.code and self.code != self.name else ""
        return f"{self.name} ({self.kind}{code})"


def point_place(lon: float, lat: float, *, radius_m: float = 1500.0) -> Place:
    """A point the user chose on the map, as a :class:`Place`."""
    return Place(f"{lat:.5f}, {lon:.5f}", "point on the map", round(float(lon), 6), round(float(lat), 6),
                 float(radius_m))


def _radius(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float) -> float:
    """The radius that covers 90% of the points around (cx, cy), within the bounds above, in 100 m steps."""
    d = np.hypot(xs - cx, ys - cy)
    r = float(np.percentile(d, 90)) * 1.2 if len(d) else 0.0
    return float(min(MAX_RADIUS_M, max(MIN_RADIUS_M, np.ceil(r / 100) * 100)))


def _place(name: str, kind: str, xs: np.ndarray, ys: np.ndarray, code: str | None = None) -> Place:
    cx, cy = float(np.median(xs)), float(np.median(ys))
    lon, lat = _TO_WGS84.transform(cx, cy)
    radius = 300.0 if kind == "postcode" else _radius(xs, ys, cx, cy)
    return Place(name, kind, round(lon, 6), round(lat, 6), radius, code)


def _area_places(layer: gpd.GeoDataFrame | None, code_col: str, name_col: str, kind: str) -> list[Place]:
    if layer is None or not len(layer) or code_col not in layer.columns:
        return []
    lay = layer[~(layer.geometry.isna() | layer.geometry.is_empty)].to_crs(MEASURE_CRS)
    pts = representative_points(lay.geometry)
    out = []
    names = lay[name_col] if name_col in lay.columns else lay[code_col]
    for code, name, pt, area in zip(lay[code_col], names, pts, lay.geometry.area, strict=True):
        if not isinstance(code, str) or not code.strip():
            continue
        lon, lat = _TO_WGS84.transform(pt.x, pt.y)
        radius = float(min(MAX_RADIUS_M, max(MIN_RADIUS_M, np.ceil(np.sqrt(area / np.pi) * 1.2 / 100) * 100)))
        label = name if isinstance(name, str) and name.strip() else code
        out.append(Place(str(label).strip(), kind, round(lon, 6), round(lat, 6), radius, str(code).strip()))
    return out


class Gazetteer:
    """Postcodes, wards, need areas, streets and towns of the data loaded, searchable by text.

    Parameters
    ----------
    postcodes : a postcode directory as :func:`assets_map.io.importer.import_file` reads it
        (indexed by compact postcode, ``x``/``y`` in EPSG:27700), or None
    wards : ward polygons with ``ward_code`` and ``ward_name``, or None
    needs : the need areas (``code``, ``name``), or None
    assets : the register (``address``, ``postcode`` and geometry), or None
    """

    def __init__(self, *, postcodes: pd.DataFrame | None = None, wards: gpd.GeoDataFrame | None = None,
                 needs: gpd.GeoDataFrame | None = None, assets: gpd.GeoDataFrame | None = None):
        codes, xs, ys = [], [], []
        if postcodes is not None and len(postcodes) and {"x", "y"} <= set(postcodes.columns):
            ok = postcodes[["x", "y"]].notna().all(axis=1).to_numpy()
            codes.append(pd.Index(postcodes.index).astype(str).str.upper().str.replace(" ", "").to_numpy()[ok])
            xs.append(postcodes["x"].to_numpy(dtype=float)[ok])
            ys.append(postcodes["y"].to_numpy(dtype=float)[ok])
        self._named: list[tuple[str, str, np.ndarray, np.ndarray]] = []  # (name, kind, xs, ys)
        if assets is not None and len(assets):
            placed = assets[~(assets.geometry.isna() | assets.geometry.is_empty)]
            pts = representative_points(placed.geometry.to_crs(MEASURE_CRS))
            px, py = pts.x.to_numpy(dtype=float), pts.y.to_numpy(dtype=float)
            if "postcode" in placed.columns:
                pc = placed["postcode"].astype("string").str.upper().str.replace(r"\s+", "", regex=True)
                full = pc.str.fullmatch(_FULL.pattern.strip("^$")).fillna(False).to_numpy(dtype=bool)
                codes.append(pc.to_numpy(dtype=object)[full].astype(str))
                xs.append(px[full])
                ys.append(py[full])
            if "address" in placed.columns:
                self._named += self._address_places(placed["address"].to_numpy(dtype=object), px, py)
        self._pc = np.concatenate(codes) if codes else np.array([], dtype=str)
        self._x = np.concatenate(xs) if xs else np.array([])
        self._y = np.concatenate(ys) if ys else np.array([])
        self._outward = np.array([c[:-3] for c in self._pc], dtype=str)
        self._sector = np.array([c[:-3] + " " + c[-3] for c in self._pc], dtype=str)
        self._areas = (_area_places(wards, "ward_code", "ward_name", "ward")
                       + _area_places(needs, "code", "name", "need area"))

    @staticmethod
    def _address_places(addresses: np.ndarray, px: np.ndarray, py: np.ndarray) -> list:
        """(name, kind, xs, ys) of every street and town the addresses name.

        An address is split at commas and line breaks, postcodes dropped; its last part (of two or
        more, with no digit) is a town; the other parts, less a house number, that name a road
        (road, lane, park...) and hold no digit are streets.
        """
        text = pd.Series(addresses, dtype=object)
        text = text[text.map(lambda v: isinstance(v, str))]
        if text.empty:
            return []
        parts = text.astype(str).str.split(r"[,\n]", regex=True).explode().str.strip()
        parts = parts[parts.notna() & (parts != "")]
        postcode = parts.str.upper().str.fullmatch(rf"{_OUTWARD}(?: ?[0-9][A-Z]{{2}})?")
        parts = parts[~postcode].str.replace(r"\s*\((?:fictional|demo)\)\s*$", "", regex=True, flags=re.I)
        rows = parts.index.to_numpy()
        order = parts.groupby(level=0).cumcount().to_numpy()
        count = parts.groupby(level=0).transform("size").to_numpy()
        last = order == count - 1
        digit = parts.str.contains(r"\d", regex=True).to_numpy()
        town = last & (count > 1) & ~digit
        street_text = parts.str.replace(_HOUSE_NUMBER, "", regex=True).str.strip()
        street = (~last | (count == 1)) & (street_text != "").to_numpy() & \
            street_text.str.contains(_STREET_WORDS, regex=True).to_numpy() & \
            ~street_text.str.contains(r"\d", regex=True).to_numpy()
        found = pd.concat([pd.DataFrame({"name": street_text.to_numpy()[street], "kind": "street", "row": rows[street]}),
                           pd.DataFrame({"name": parts.to_numpy()[town], "kind": "town or place", "row": rows[town]})],
                          ignore_index=True)
        found["key"] = found["name"].str.lower()
        out = []
        for (_, kind), group in found.groupby(["key", "kind"], sort=False):
            at = group["row"].to_numpy(dtype=int)
            out.append((group["name"].iloc[0], kind, px[at], py[at]))
        return out

    def labels(self) -> list[Place]:
        """Names to draw on a map so it reads without tiles: wards, and the towns of the addresses (2+ sites)."""
        wards = [p for p in self._areas if p.kind == "ward"]
        # A town a ward is named after ("Sale" and "Sale Central") is said once, by the ward.
        said = " | ".join(p.name.lower() for p in wards)
        towns = [_place(n, k, xs, ys) for n, k, xs, ys in self._named if k == "town or place" and len(xs) >= 2
                 and not re.search(rf"(?:^|[\s|&-]){re.escape(n.lower())}(?:$|[\s|&-])", said)]
        return wards + towns

    def __len__(self) -> int:
        return len(self._pc) + len(self._named) + len(self._areas)

    def _postcodes(self, q: str) -> list[Place]:
        compact = q.replace(" ", "")
        if not len(self._pc):
            return []
        m = _FULL.match(compact)
        if m:
            hit = self._pc == compact
            if hit.any():
                return [_place(f"{m.group(1)} {m.group(2)}", "postcode", self._x[hit], self._y[hit])]
            return []
        out = []
        m = _SECTOR.match(q) or (_SECTOR.match(compact[:-1] + " " + compact[-1]) if len(compact) > 2 else None)
        if m:
            sector = f"{m.group(1)} {m.group(2)}"
            hit = self._sector == sector
            if hit.any():
                out.append(_place(sector, "postcode sector", self._x[hit], self._y[hit]))
        if _DISTRICT.match(compact):
            hit = self._outward == compact
            if hit.any():
                out.append(_place(compact, "postcode district", self._x[hit], self._y[hit]))
        if not out and len(compact) >= 4:  # the start of a full postcode ("M32 0F")
            hit = np.char.startswith(self._pc.astype(str), compact)
            if hit.any():
                out.append(_place(f"{q.upper()}…", "postcode sector", self._x[hit], self._y[hit]))
        return out

    def search(self, text: str, *, limit: int = 8) -> list[Place]:
        """Places matching ``text``, best first (at most ``limit``).

        A postcode (full, sector or district) or an area code matches exactly; names match
        whole (case ignored) first, then at the start of a word, then anywhere.
        """
        q = re.sub(r"\s+", " ", str(text or "")).strip().upper()
        if len(q) < 2:
            return []
        found: list[tuple[int, int, str, Place]] = [(0, KIND_ORDER[p.kind], p.name, p) for p in self._postcodes(q)]
        word = re.compile(rf"(?:^|[\s\-&/(]){re.escape(q)}", re.I)

        def quality(name: str) -> int | None:
            up = name.upper()
            if up == q:
                return 1
            if word.search(name):
                return 2
            if len(q) >= 3 and q in up:
                return 3
            return None

        for p in self._areas:
            if p.code and p.code.upper() == q:
                found.append((0, KIND_ORDER[p.kind], p.name, p))
                continue
            got = quality(p.name)
            if got is not None:
                found.append((got, KIND_ORDER[p.kind], p.name, p))
        for name, kind, xs, ys in self._named:
            got = quality(name)
            if got is not None:
                found.append((got, KIND_ORDER[kind], name, _place(name, kind, xs, ys)))
        found.sort(key=lambda t: (t[0], t[1], t[2].lower()))
        seen, out = set(), []
        for *_, p in found:
            key = (p.name.lower(), p.kind)
            if key not in seen:
                seen.add(key)
                out.append(p)
        return out[:limit]


def to_measure(place: Place) -> tuple[float, float]:
    """The place's point in EPSG:27700 (metres)."""
    return _TO_BNG.transform(place.lon, place.lat)
