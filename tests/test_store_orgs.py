"""Editors work on their own organisation's assets only; a blank visibility is internal. Both backends."""
from __future__ import annotations

import copy

import pandas as pd
import pytest

from assets_map.engine.pipeline import analyse
from assets_map.store import LOCAL_USER, PUBLIC, NotAllowed, Role
from tests.helpers import HASH, snapshot

A = "Ashbridge Borough Council (fictional)"
B = "Riverside Homes housing association (fictional)"


def _register_of(demo_analysis, organisation: str, *, prefix: str, n: int = 12):
    """A small register whose rows all name ``organisation`` (ids prefixed so registers do not collide)."""
    result, exclude = demo_analysis
    out = copy.copy(result)
    a = result.assets.iloc[:n].copy()
    a["asset_id"] = prefix + a["asset_id"].astype(str)
    a["organisation"] = organisation
    a["visibility"] = "public"
    out.assets = a.reset_index(drop=True)
    return out, exclude


def _import(store, register, organisation, role, name="register.csv"):
    result, exclude = register
    return store.import_analysis(result, organisation=organisation, role=role, source_name=name, file_sha256=HASH,
                                 exclude=exclude)


def test_editor_may_not_import_or_publish_assets_under_another_organisations_name(store, demo_analysis):
    ed_a = Role("editor", "ed@a.example", A)
    ours = _register_of(demo_analysis, A, prefix="A-")
    _import(store, ours, A, ed_a)  # their own organisation: fine
    before = snapshot(store)
    # A file whose organisation column names B, imported by A's editor under A's register.
    theirs = _register_of(demo_analysis, B, prefix="X-")
    with pytest.raises(NotAllowed, match=r"editor for .*may not import assets of Riverside Homes.*rows? .*nothing was "
                                         r"imported") as err:
        _import(store, theirs, A, ed_a)
    assert "\n" not in str(err.value)
    assert snapshot(store) == before
    # One row naming B among A's own is refused too, with its row.
    mixed = _register_of(demo_analysis, A, prefix="A-")
    mixed[0].assets.loc[3, "organisation"] = B
    with pytest.raises(NotAllowed, match=r"row 4 "):
        _import(store, mixed, A, ed_a)
    assert snapshot(store) == before
    # Rows that leave the organisation blank, or name A in other case, are A's.
    blank = _register_of(demo_analysis, A, prefix="A-")
    blank[0].assets.loc[0, "organisation"] = None
    blank[0].assets.loc[1, "organisation"] = A.upper()
    _import(store, blank, A, ed_a)
    # Nor under B's register, nor by editing B's assets: publishing, hiding, moderating.
    _import(store, _register_of(demo_analysis, B, prefix="B-"), B, LOCAL_USER)
    with pytest.raises(NotAllowed):
        _import(store, theirs, B, ed_a)
    aid = "B-" + demo_analysis[0].assets["asset_id"].iloc[0]
    store.save(aid, {"visibility": "internal"}, expected_version=1, role=LOCAL_USER)
    for change in ({"visibility": "public"}, {"field_visibility": {"notes": "public"}}, {"status": "vacant"}):
        with pytest.raises(NotAllowed, match="editor for Ashbridge Borough Council"):
            store.save(aid, change, expected_version=2, role=ed_a)
    assert store.get(aid, LOCAL_USER)["visibility"] == "internal"


def test_corrections_go_to_the_owning_organisations_queue(store, demo_analysis):
    ed_a, ed_b = Role("editor", "ed@a.example", A), Role("editor", "ed@b.example", B)
    _import(store, _register_of(demo_analysis, A, prefix="A-"), A, ed_a)
    _import(store, _register_of(demo_analysis, B, prefix="B-"), B, ed_b)
    with pytest.raises(NotAllowed):  # A's editor cannot put B's name on assets in A's queue
        _import(store, _register_of(demo_analysis, B, prefix="X-"), A, ed_a)
    theirs = "B-" + demo_analysis[0].assets["asset_id"].iloc[1]
    from_public = store.submit_correction(theirs, message="it has been empty since spring", role=PUBLIC)
    from_a = store.submit_correction(theirs, message="we saw it boarded up", role=ed_a)
    assert [c["id"] for c in store.corrections(role=ed_b)] == [from_public, from_a]
    assert all(c["organisation"] == B for c in store.corrections(role=ed_b))
    assert store.corrections(role=ed_a) == []
    with pytest.raises(NotAllowed):
        store.decide_correction(from_public, accept=False, role=ed_a)
    assert store.decide_correction(from_a, accept=False, role=ed_b) is None
    # Every organisation named on a public asset is the one whose queue gets its corrections.
    public = store.assets(PUBLIC).set_index("asset_id")
    owners = {c["asset_id"]: c["organisation"] for c in store.corrections(role=LOCAL_USER, state=None)}
    assert all(public.loc[aid, "organisation"] == org for aid, org in owners.items())


# ------------------------------------------------------------------------------- visibility from a file
def _trafford_with_visibility(tmp_path, trafford, cells: list[str] | None):
    """The first rows of Trafford's real register, with a Visibility column when ``cells`` is given."""
    raw = pd.read_csv(trafford["register"], dtype=str, keep_default_na=False).iloc[:len(cells or [None] * 6)]
    if cells is not None:
        raw.insert(5, "Visibility", cells)
    path = tmp_path / "trafford_register.csv"
    raw.to_csv(path, index=False)
    return path, list(raw["AssetCode"])


def test_blank_or_unclear_visibility_cell_is_internal(store, tmp_path, trafford):
    cells = ["Public", "", "internal", "maybe", " yes ", "   "]
    path, codes = _trafford_with_visibility(tmp_path, trafford, cells)
    result = analyse(path, trafford["lsoa11"], trafford["iod_long"])
    by_code = dict(zip(result.assets["src_AssetCode"], result.assets["visibility"], strict=True))
    assert [by_code[c] for c in codes] == ["public", "internal", "internal", "internal", "public", "internal"]
    store.import_analysis(result, organisation="Trafford Council", role=LOCAL_USER, source_name=path.name,
                          file_sha256=HASH)
    stored = store.assets(LOCAL_USER).set_index("src_AssetCode")
    assert [stored.loc[c, "visibility"] for c in codes] == ["public", "internal", "internal", "internal", "public",
                                                           "internal"]
    public = set(store.assets(PUBLIC)["asset_id"])
    assert public == {stored.loc[codes[0], "asset_id"], stored.loc[codes[4], "asset_id"]}


def test_register_without_a_visibility_column_is_published(tmp_path, trafford):
    path, _ = _trafford_with_visibility(tmp_path, trafford, None)
    result = analyse(path, trafford["lsoa11"], trafford["iod_long"])
    assert (result.assets["visibility"] == "public").all()  # a register published under the Transparency Code
