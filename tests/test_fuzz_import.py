"""Property test of the single ingest entry point: random and mutated bytes of every accepted format end in
an accepted import or an InputError, never another exception, never a hang, with bounded memory.

Seeds are small real samples of each format made here; hypothesis mutates them (bit flips, truncation,
insertions, splices) and also throws raw bytes under every accepted extension. A faulthandler watchdog
kills the run if one example hangs (hypothesis' deadline only reports slow examples after they finish).
"""
from __future__ import annotations

import faulthandler
import io
import json
import resource
import sys
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from assets_map.io.importer import import_bytes
from assets_map.io.report import ImportReport, InputError
from assets_map.io.sources import Limits
from tests.helpers import SHARED

LIMITS = Limits(max_file_bytes=2_000_000, max_zip_expanded=5_000_000, zip_ratio_floor=1_000_000,
                max_rows=20_000, max_columns=300)
HANG_SECONDS = 60
PEAK_PYTHON_BYTES = 300 * 1024 * 1024


def _seeds(tmp: Path) -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    seeds["register.csv"] = ("AssetCode,PropertyName,PostCode,GeoX,GeoY,TenureType,HoldingType,TenureDetail\n"
                             '0012,"Town\nHall",M32 0TH,-2.35,53.45,Freehold,Land & Buildings,Vacant\n'
                             "0013,Depot,M31,,,Leashold,Buliding,Occupied\n"
                             "0014,Caf\u00e9,WA14 1AB,378000,390000,Freehold,Land,Surplus\n").encode("cp1252")
    seeds["brownfield.csv"] = (b"SiteReference,SiteNameAddress,GeoX,GeoY,CoordinateReferenceSystem,Hectares,"
                               b"OwnershipStatus,PlanningStatus\nBF1,Old depot,380000,395000,WGS84,1.2,"
                               b"owned by a public authority,not permissioned\n")
    seeds["eric.csv"] = (b",,,Areas,,\nOrganisation Code,Organisation Name,Site Code,Site Name,"
                         b"Floor area - empty (%),Land area not delivering services (Hectares)\n"
                         b"RX1,TRUST,AGGRE,AGGREGATE SITE,3,0\nRX1,TRUST,RX101,TOWN HOSPITAL,5,1.5\n")
    g = gpd.GeoDataFrame({"AssetCode": ["1", "2"], "Name": ["a", "b"]},
                         geometry=[Point(380000, 395000), Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])], crs=27700)
    g.to_file(tmp / "s.gpkg", engine="pyogrio")
    seeds["layer.gpkg"] = (tmp / "s.gpkg").read_bytes()
    seeds["layer.geojson"] = g.to_crs(4326).to_json().encode()
    g.set_geometry(g.geometry.representative_point()).to_file(tmp / "s.shp", engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in tmp.glob("s.*"):
            if p.suffix != ".gpkg":
                zf.write(p, "assets" + p.suffix)
    seeds["layer.zip"] = buf.getvalue()
    seeds["layer.shp"] = (tmp / "s.shp").read_bytes()
    x = io.BytesIO()
    pd.DataFrame({"AssetCode": ["001"], "GeoX": [-2.3], "GeoY": [53.4]}).to_excel(x, index=False)
    seeds["register.xlsx"] = x.getvalue()
    seeds["deprivation.csv"] = (b"lsoa11cd,index_domain,decile,rank,score,year\n"
                                b"E01000001,Index of Multiple Deprivation (IMD),3,9000,30.1,2019\n")
    return seeds


def _xls_seed() -> bytes | None:
    # A real legacy .xls when the shared data is present (only its first 64 KB: xlrd must cope with a cut file).
    p = SHARED / "nhs" / "eric_hefs_site_and_trust_data_13944.xls"
    return p.read_bytes()[:65536] if p.exists() else None


_TMP = Path(__import__("tempfile").mkdtemp(prefix="assets_map_fuzz_seeds_"))
SEEDS = _seeds(_TMP)
if _xls_seed():
    SEEDS["eric.xls"] = _xls_seed()
EXTENSIONS = [".csv", ".tsv", ".txt", ".geojson", ".json", ".gpkg", ".shp", ".zip", ".xlsx", ".xls"]


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "splice", "repeat"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 64))]
        elif op == "splice":
            other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
            j = draw(st.integers(0, len(other)))
            data[i:] = other[j:j + 4096]
        else:
            data[i:i] = bytes(data[i:i + 16]) * draw(st.integers(1, 50))
    keep_ext = draw(st.booleans())
    ext = Path(name).suffix if keep_ext else draw(st.sampled_from(EXTENSIONS))
    return "upload" + ext, bytes(data)


raw_bytes = st.tuples(st.sampled_from(EXTENSIONS).map(lambda e: "random" + e), st.binary(max_size=2048))
structured_text = st.tuples(
    st.sampled_from([".csv", ".geojson", ".tsv"]).map(lambda e: "text" + e),
    st.text(alphabet=st.sampled_from(list(',;\t"\n\r{}[]:.-0123456789abcdeXYGeoxyLatLongitude\u00e9 ')), max_size=400)
    .map(lambda s: s.encode("utf-8")),
)


@pytest.fixture(scope="module", autouse=True)
def watchdog():
    yield
    faulthandler.cancel_dump_traceback_later()


@settings(max_examples=2000, deadline=timedelta(seconds=20), derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(mutated(), raw_bytes, structured_text))
def test_every_input_is_accepted_or_refused(case):
    name, data = case
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)  # a hang kills the run with a traceback
    tracemalloc.start()
    try:
        try:
            gdf, report = import_bytes(data, name, limits=LIMITS)
        except InputError as exc:
            assert str(exc).strip() and "\n" not in str(exc), f"refusal must be one line: {exc!r}"
            return
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            faulthandler.cancel_dump_traceback_later()
        assert peak < PEAK_PYTHON_BYTES, f"{name}: {peak / 1e6:.0f} MB of Python memory for {len(data)} bytes"
        assert isinstance(gdf, gpd.GeoDataFrame) and isinstance(report, ImportReport)
        # every row is a site, rejected, or set aside as an aggregate or fragment row (never lost)
        assert (report.rows_read == len(gdf) + report.rejected + report.set_aside
                or report.adapter.startswith("English Indices"))
        json.dumps(report.to_dict(), default=str)  # the report can always be written
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()


def test_fuzz_memory_stayed_bounded():
    """After the fuzzing above, the process's peak resident memory is bounded (GDAL and xlrd included)."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        peak_kb //= 1024
    assert peak_kb < 3 * 1024 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
