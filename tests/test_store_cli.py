"""``assets-map store``: import through the engine, info, roles, backup and restore."""
from __future__ import annotations

import sqlite3

import pytest

from assets_map.cli import main
from assets_map.store import LOCAL_USER, Identity, SqliteStore


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    """The fictional demo written out as the files an estates team would have."""
    import geopandas as gpd

    from assets_map.engine.demo import build_demo

    d = tmp_path_factory.mktemp("files")
    gpkg = build_demo(d / "demo.gpkg")
    gpd.read_file(gpkg, layer="assets").to_file(d / "assets.gpkg", driver="GPKG")
    gpd.read_file(gpkg, layer="need_areas").to_file(d / "areas.gpkg", driver="GPKG")
    return d


def test_store_cli_import_info_role_backup_restore(demo_files, tmp_path, capsys):
    reg = tmp_path / "reg.sqlite"
    args = ["store", "--store", str(reg)]
    assert main(args + ["import", "--assets", str(demo_files / "assets.gpkg"), "--boundaries",
                        str(demo_files / "areas.gpkg"), "--organisation", "Ashbridge (fictional)"]) == 0
    out = capsys.readouterr().out
    assert "import batch 1 for Ashbridge (fictional): 300 rows; 300 added" in out
    assert main(args + ["info"]) == 0
    out = capsys.readouterr().out
    assert "assets: 300 in the register" in out and "assets.gpkg" in out and "integrity: ok" in out
    assert main(args + ["role", "ann@example.org", "editor", "--organisation", "Ashbridge (fictional)"]) == 0
    assert SqliteStore(reg).role_for(Identity("https://id.example", "9", "ann@example.org")).organisation == \
        "Ashbridge (fictional)"
    assert main(args + ["role", "7", "admin", "--issuer", "https://id.example"]) == 0
    assert main(args + ["users"]) == 0
    out = capsys.readouterr().out
    assert "ann@example.org: editor for Ashbridge (fictional)" in out
    assert "subject 7 of https://id.example: admin" in out
    assert main(args + ["role", "bob@example.org", "editor"]) == 2  # an editor needs an organisation
    assert "editor must belong" in capsys.readouterr().err
    assert main(args + ["backup", str(tmp_path / "b.sqlite")]) == 0
    fresh = tmp_path / "fresh.sqlite"
    assert main(["store", "--store", str(fresh), "restore", str(tmp_path / "b.sqlite")]) == 0
    a, b = SqliteStore(reg), SqliteStore(fresh)
    assert {t: r for t, _, r in a.dump()} == {t: r for t, _, r in b.dump()}
    assert len(b.assets(LOCAL_USER)) == 300
    batch = sqlite3.connect(fresh).execute("SELECT imported_by, file_sha256 FROM batches").fetchone()
    assert batch[0].endswith("(command line)") and len(batch[1]) == 64
