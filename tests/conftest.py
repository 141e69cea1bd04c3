"""Shared fixtures: the real data in ../shared/data, skipped with a reason where absent.

CI sets ASSETS_MAP_REQUIRE_SHARED_DATA=1 so that a missing data folder fails
instead of skipping.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ASSETS_MAP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_file(*parts: str) -> Path:
    """Path of a real data file, or skip (fail in CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"real data not found at {path} (../shared/data is only present beside the project's CI checkout)"
        if os.environ.get("ASSETS_MAP_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(reason + "; ASSETS_MAP_REQUIRE_SHARED_DATA=1 requires it")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def trafford():
    """Paths of the Trafford files."""
    return {
        "register": shared_file("trafford", "land_and_building_assets.csv"),
        "lsoa21": shared_file("trafford", "lsoa21_boundaries.geojson"),
        "lsoa11": shared_file("trafford", "lsoa11_boundaries.geojson"),
        "iod_long": shared_file("trafford", "iod2015_2019_lsoa11_long.csv"),
        "imd2025": shared_file("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
        "postcodes": shared_file("trafford", "postcodes_onspd_feb2025.csv"),
        "greenspace": shared_file("trafford", "parcels", "greenspace_sites.geojson"),
        "allotments": shared_file("trafford", "parcels", "allotments.geojson"),
    }


@pytest.fixture(scope="session")
def demo_result():
    from assets_map.demo import load_demo

    return load_demo()
