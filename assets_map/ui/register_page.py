"""Register page: estates teams correct their register; the public says "have we got this wrong?".

Thin over :mod:`assets_map.store`: every read passes the user's role to the
store, which returns only what that role may see, so nothing internal reaches
this page for a public visitor. The only shared cache holds the store handle
(a location, no data); register rows are read per rerun and never cached across
users. Values from files and from other users are shown with st.text or
st.dataframe, which never interpret them, or escaped with :func:`shared.md` in
messages (a conflict quotes the other editor's values).
"""
from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import streamlit as st

from assets_map.engine.demo import DEMO_PATH
from assets_map.io.provenance import sha256_of
from assets_map.io.report import InputError
from assets_map.store import (
    CONTACT_FIELDS,
    CONTACT_LABELS,
    EDIT_STATUSES,
    PUBLIC,
    ConflictError,
    NotAllowed,
    RemovalsNotConfirmed,
    Role,
    StoreError,
    codec,
    views,
)
from assets_map.ui import identity, state
from assets_map.ui.shared import md

STATUS_LABELS = {v: k for k, v in EDIT_STATUSES.items()}
OPENED = "register_opened_versions"  # asset_id -> version shown when the user opened it
PLACED_NOW = "register_placed_now"  # assets edited in this session, kept in the "not placed" list
CONFIRM_REMOVALS = "register_confirm_removals"  # an import waiting for the user to confirm its removals


_store = identity.shared_store


def _sign_in_box(who: identity.Visitor) -> None:
    if who.mode == "local":
        st.info("**Local mode**: no sign-in is configured and this browser is on the server itself, so you have "
                "full access to the register on this machine. Visitors from any other machine get the public view "
                "only. To let colleagues edit, configure OIDC sign-in (an `[auth]` section in "
                "`.streamlit/secrets.toml`) and give them roles.", icon=":material/lock_open:")
        return
    if not identity.auth_configured():
        st.caption("You are viewing the public register. Sign-in is not configured on this server, so the register "
                   "can be edited only from the server itself.")
        return
    if not st.user.is_logged_in:
        st.caption("You are viewing the public register.")
        if st.button("Sign in (estates teams)"):
            st.login()
        return
    st.caption(md(f"Signed in as {who.role.describe()}.") if who.mode == "signed-in"
               else "Signed in, with the public view.")
    if who.note:
        st.warning(md(who.note))
    if st.button("Sign out"):
        st.logout()


def render() -> None:
    """The Register page: the shared register as the visitor's role allows (import, edit, corrections, roles)."""
    st.title("The register")
    try:
        store = _store()
    except StoreError as exc:  # one line, no connection details (those go to the server log)
        st.error(f"The register could not be opened: {md(exc)}")
        return
    try:
        who = identity.visitor(store)
        role = who.role
        _sign_in_box(who)
        st.caption(f"Register: {md(store.describe()) if not role.is_public else 'public view'}")
        _show_on_map(store, role)
        if not role.is_public:
            _import_section(store, role)
            _edit_section(store, role)
            _contact_section(store, role)
            _moderation_section(store, role)
            if role.kind == "admin" and not role.local:
                _users_section(store, role)
        _correction_form(store, role)
    except StoreError as exc:  # the database went away after the page opened it: a line, not a traceback
        st.error(f"The register is not available just now: {md(exc)}")


def _show_on_map(store, role: Role) -> None:
    """Put the register, as this role may see it, in use on every page (map, table, downloads)."""
    if store.is_empty():
        return
    if st.button("Show the register on the map", help="Every page then shows the register as you may see it: "
                 "the public view unless you are signed in as its editor."):
        result = store.register_analysis(role)
        fictional = bool(len(result.assets)) and bool(result.assets["organisation"].astype(str).str.contains(
            "(fictional)", regex=False).all())
        state.use_data(result, label=f"The register ({'public view' if role.is_public else role.describe()})",
                       demo=fictional)
        st.success("The register is now the data in use on every page.")


def _import_section(store, role: Role) -> None:
    with st.expander("Put the data in use into the register", expanded=store.is_empty()):
        result = state.analysis()
        st.text(f"Data in use: {state.data_label()} ({len(result.assets)} assets)")
        org = st.text_input("Organisation whose register this is", value=role.organisation or "",
                            disabled=role.kind == "editor", key="register_org")
        # removals the user was shown, for this organisation and this data only
        pending = st.session_state.get(CONFIRM_REMOVALS)
        if pending and (pending["organisation"], pending["data"]) != (org.strip(), state.data_version()):
            st.session_state.pop(CONFIRM_REMOVALS, None)
        if st.button("Import into the register", disabled=not org.strip()):
            st.session_state.pop(CONFIRM_REMOVALS, None)
            _import_now(store, role, result, org.strip(), allow_removals=None)
        pending = st.session_state.get(CONFIRM_REMOVALS)
        if pending:
            box = st.empty()
            with box.container():
                n = len(pending["removed"])
                st.warning(md(pending["message"]))
                st.dataframe(pd.DataFrame(pending["removed"], columns=["Asset id", "Name"]).fillna("(no name)"),
                             hide_index=True)
                yes = st.button(f"Import and mark these {n} assets as no longer in the register",
                                key="confirm_removals", type="primary")
                no = st.button("Cancel: import nothing", key="cancel_removals")
            if yes or no:
                st.session_state.pop(CONFIRM_REMOVALS, None)
                box.empty()
            if yes:  # the count shown: if the register changed meanwhile and more would go, it is refused again
                _import_now(store, role, result, org.strip(), allow_removals=n)
            elif no:
                st.info("Nothing was imported.")
        batches = store.batches(role=role)
        if batches:
            st.dataframe(pd.DataFrame(batches).drop(columns="report").rename(columns=BATCH_WORDS), hide_index=True)


def _import_now(store, role: Role, result, organisation: str, *, allow_removals: int | None) -> None:
    """Import the data in use; an import that would remove many assets is kept for the user to confirm."""
    exclude = list(result.exclude)  # the layers the analysis excluded with, also for later edits
    if state.is_demo():
        file_hash = sha256_of(DEMO_PATH)
        source = DEMO_PATH.name
    else:
        file_hash = codec.sha256_frame(result.assets)  # the upload's bytes are not kept
        source = state.data_label()
    try:
        out = store.import_analysis(result, organisation=organisation, role=role, source_name=source,
                                    file_sha256=file_hash, exclude=exclude, allow_removals=allow_removals)
    except RemovalsNotConfirmed as exc:
        st.session_state[CONFIRM_REMOVALS] = {
            "organisation": organisation, "data": state.data_version(), "removed": exc.removed,
            "message": f"Nothing was imported yet. This import would mark {len(exc.removed)} of {organisation}'s "
                       f"{exc.in_register} assets as no longer in the register (listed below). If the file lost "
                       f"rows, fix it and load it again; if these assets really left the register, confirm."}
    except (InputError, StoreError, NotAllowed) as exc:
        st.error(md(exc))
    else:
        for line in out.lines():  # names the organisation and assets: user text
            st.success(md(line))


def _edit_section(store, role: Role) -> None:
    st.header("Correct an asset")
    frame = store.assets(role)
    mine = frame[frame["version"].notna()]
    if mine.empty:
        st.caption("Nothing you may edit yet: import a register first.")
        return
    unplaced = mine.geometry.isna() | mine.geometry.is_empty
    only = st.toggle(f"Only sites not placed on the map ({int(unplaced.sum())})", key="register_unplaced",
                     disabled=not unplaced.any())
    placed_now = st.session_state.setdefault(PLACED_NOW, set())  # placed here: still listed, the page stays on it
    pick = mine[unplaced | mine["asset_id"].isin(placed_now)] if only and unplaced.any() else mine
    labels = dict(zip(pick["asset_id"], pick["name"].astype(object).where(pick["name"].notna(), "(no name)"),
                      strict=True))
    aid = st.selectbox("Asset", list(labels), format_func=lambda a: f"{labels[a]} ({a})", key="register_asset")
    rec = store.get(aid, role)
    opened = st.session_state.setdefault(OPENED, {})
    expected = opened.setdefault(aid, rec["version"])
    if expected != rec["version"]:
        st.warning(f"This asset changed since you opened it (you opened version {expected}, it is now "
                   f"{rec['version']}). Saving will be refused until you reload it.")
        if st.button("Reload the latest version"):
            opened[aid] = rec["version"]
            st.rerun()
    caption = st.empty()  # filled after any save below: the version and priority shown are the saved ones
    saved = _place_section(store, role, aid, rec, expected)
    if saved is None:
        saved = _edit_form(store, role, aid, rec, expected)
    if saved is not None:
        opened[aid] = saved[0]
        st.session_state.setdefault(PLACED_NOW, set()).add(aid)
        rec = store.get(aid, role)
        st.success(md(saved[1]), icon=":material/check_circle:")
    caption.caption(f"Version {rec['version']} · priority {md(rec.get('priority') or 'not flagged')} · "
                    f"{'public' if rec['visibility'] == 'public' else 'internal (not on the public map)'} · "
                    + md(_where_text(rec)))
    with st.expander("History of this asset"):
        hist = store.history(aid, role=role)
        st.dataframe(pd.DataFrame([{"Version": h["version"], "When": h["at"], "Who": h["by"], "What": h["kind"],
                                    "Changes": "; ".join(f"{_field_words(k)}: {_s(v[0])} → {_s(v[1])}"
                                                         for k, v in h["changes"].items())}
                                   for h in hist]), hide_index=True)


def _where_text(rec: dict) -> str:
    geom = rec.get("geometry")
    if geom is None or geom.is_empty:
        return "not placed on the map"
    lon, lat = _lonlat(geom)
    return f"placed at {lat:.5f}, {lon:.5f} ({rec.get('location_quality') or 'location quality not recorded'})"


def _lonlat(geom) -> tuple[float, float]:
    import geopandas as gpd

    pt = gpd.GeoSeries([geom.representative_point()], crs="EPSG:27700").to_crs("EPSG:4326").iloc[0]
    return pt.x, pt.y


def _saved_line(store, role: Role, aid: str, version: int, before: dict) -> tuple[int, str]:
    after = store.get(aid, role)
    was, now = before.get("priority") or "not flagged", after.get("priority") or "not flagged"
    prio = f"priority {now}" + (f" (was {was})" if was != now else " (unchanged)")
    return version, f"Saved as version {version}: {prio}. Scores and flags were recomputed."


def _save(store, role: Role, aid: str, rec: dict, changes: dict, expected: int) -> tuple[int, str] | None:
    try:
        version = store.save(aid, changes, expected_version=expected, role=role)
    except ConflictError as exc:  # quotes other editors' values: shown as text, never as Markdown
        st.error(md(exc))
    except (InputError, StoreError, NotAllowed) as exc:
        st.error(md(exc))
    else:
        return _saved_line(store, role, aid, version, rec)
    return None


def _postcode_point(store, role: Role, postcode: str) -> tuple[float, float] | None:
    """Easting and northing of a full postcode: the postcode directory in use, else a placed register row's."""
    compact = "".join(str(postcode).split()).upper()
    directory = getattr(state.analysis(), "places", {}).get("postcodes")
    if directory is not None and compact in directory.index:
        hit = directory.loc[compact]
        hit = hit.iloc[0] if isinstance(hit, pd.DataFrame) else hit
        if pd.notna(hit.get("x")) and pd.notna(hit.get("y")):
            return float(hit["x"]), float(hit["y"])
    a = store.assets(role)
    if "postcode" in a.columns:
        same = a[a["postcode"].astype("string").str.replace(r"\s+", "", regex=True).str.upper() == compact]
        same = same[same.geometry.notna() & ~same.geometry.is_empty]
        if len(same):
            pt = same.geometry.iloc[0].representative_point()
            return pt.x, pt.y
    return None


def _place_section(store, role: Role, aid: str, rec: dict, expected: int) -> tuple[int, str] | None:
    """Place the site: at a postcode, where the user clicks on the map, or at typed coordinates."""
    st.markdown("**Where it is**")
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    pc = c1.text_input("Postcode", value=rec.get("postcode") or "", key=f"place_pc_{aid}",
                       help="A full postcode (e.g. M32 0TH) from the postcode directory loaded on Your data, or of "
                            "another placed site in the register.")
    if c2.button("Place at this postcode", key=f"place_pc_go_{aid}", disabled=not pc.strip()):
        at = _postcode_point(store, role, pc)
        if at is None:
            st.error(md(f"Postcode {pc.strip()!r} is not in the postcode directory loaded (load one on Your data) nor "
                        "at any placed site of the register: check it, or click the map."), icon=":material/block:")
        else:
            return _save(store, role, aid, rec, {
                "location": at, "location_quality": "full postcode", "postcode": pc,
                "location_note": f"placed at the centre of postcode {pc.strip().upper()} in the register"}, expected)
    clicked = _click_map(store, role, aid, rec)
    if clicked is not None:
        lon, lat = clicked
        st.caption(f"You clicked {lat:.5f}, {lon:.5f}.")
        if st.button("Place the site where I clicked", key=f"place_click_{aid}", type="primary"):
            e, n = _to_bng(lon, lat)
            return _save(store, role, aid, rec, {"location": (e, n), "location_note": "placed on the map in the "
                                                 "register"}, expected)
    with st.expander("Type coordinates instead (easting and northing, EPSG:27700)"):
        geom = rec.get("geometry")
        here = geom.representative_point() if geom is not None and not geom.is_empty else None
        c1, c2 = st.columns(2)
        east = c1.number_input("Easting", value=float(here.x) if here else None, format="%.1f", key=f"east_{aid}",
                               placeholder="not placed")
        north = c2.number_input("Northing", value=float(here.y) if here else None, format="%.1f",
                                key=f"north_{aid}", placeholder="not placed")
        if st.button("Place at these coordinates", key=f"place_xy_{aid}", disabled=east is None or north is None):
            return _save(store, role, aid, rec, {"location": (east, north)}, expected)
    return None


def _to_bng(lon: float, lat: float) -> tuple[float, float]:
    import geopandas as gpd
    import shapely

    pt = gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326").to_crs("EPSG:27700").iloc[0]
    return round(pt.x, 1), round(pt.y, 1)


def _click_map(store, role: Role, aid: str, rec: dict) -> tuple[float, float] | None:
    """A small map of the organisation's placed sites (drawn without tiles too); returns the last click (lon, lat)."""
    import folium
    from streamlit_folium import st_folium

    from assets_map.maps.draw import localise

    a = store.assets(role)
    placed = a[a.geometry.notna() & ~a.geometry.is_empty]
    geom = rec.get("geometry")
    district = _district_centre(rec.get("postcode"))
    if geom is not None and not geom.is_empty:
        lon, lat = _lonlat(geom)
        zoom = 16
    elif district is not None:  # only a postcode district is known: start there
        lon, lat = _lonlat(district)
        zoom = 14
    elif len(placed):
        lon, lat = _lonlat(placed.geometry.union_all().centroid)
        zoom = 12
    else:
        return None
    m = folium.Map(location=[lat, lon], zoom_start=zoom, tiles="OpenStreetMap", control_scale=True)
    localise(m)  # Leaflet from the app itself, never a CDN: the map works on a locked-down network
    pts = placed.geometry.representative_point().to_crs("EPSG:4326")
    names = placed["name"].astype(object).where(placed["name"].notna(), "(no name)")
    for pt, name, other in zip(pts, names, placed["asset_id"], strict=True):
        folium.CircleMarker([pt.y, pt.x], radius=6 if other == aid else 3, weight=1,
                            color="#d7191c" if other == aid else "#555555", fill=True, fill_opacity=0.8,
                            tooltip=str(name)).add_to(m)
    st.caption("Click the map where the site is (the grey dots are the register's placed sites; the red one is this "
               "site), then press the button below.")
    out = st_folium(m, key=f"place_map_{aid}", height=360, use_container_width=True,
                    returned_objects=["last_clicked"])
    got = (out or {}).get("last_clicked")
    if got and got.get("lng") is not None:
        return float(got["lng"]), float(got["lat"])
    return None


def _district_centre(postcode):
    """The middle of a postcode's district (``M31``) in the postcode directory in use, or None."""
    import shapely

    directory = getattr(state.analysis(), "places", {}).get("postcodes")
    compact = "".join(str(postcode or "").split()).upper()
    if directory is None or not compact or not {"x", "y"} <= set(directory.columns):
        return None
    district = compact if len(compact) <= 4 else compact[:-3]
    codes = pd.Index(directory.index).astype(str)
    hit = directory[codes.str[:-3] == district]
    if hit.empty:
        return None
    return shapely.Point(float(hit["x"].mean()), float(hit["y"].mean()))


def _edit_form(store, role: Role, aid: str, rec: dict, expected: int) -> tuple[int, str] | None:
    with st.form(f"edit_{aid}"):
        c1, c2 = st.columns(2)
        name = c1.text_input("Name", value=rec.get("name") or "")
        uprn = c2.text_input("UPRN", value=_num_text(rec.get("uprn")))
        statuses = list(EDIT_STATUSES)
        cur = STATUS_LABELS.get(rec.get("status"), rec.get("status") or "in use")
        if cur not in statuses:
            statuses.append(cur)
        status = c1.selectbox("Status", statuses, index=statuses.index(cur))
        tenure = c2.text_input("Tenure", value=rec.get("tenure") or "", placeholder="e.g. Freehold, Leasehold")
        floor = c1.number_input("Floor area (m²)", value=_num(rec.get("floor_area_m2")), min_value=0.0,
                                format="%.0f", placeholder="not recorded")
        site = c2.number_input("Site area (ha)", value=_num(rec.get("site_area_ha")), min_value=0.0, format="%.2f",
                               placeholder="not recorded")
        vacant = c1.date_input("Vacant since", value=_date(rec.get("vacant_since")), max_value=dt.date.today())
        visibility = c2.radio("On the public map", ["public", "internal"],
                              index=0 if rec["visibility"] == "public" else 1, horizontal=True)
        notes = st.text_area("Notes (internal unless shown below)", value=rec.get("notes") or "")
        contact = st.text_input("Contact route for this site (public)", value=rec.get("contact_route") or "")
        disposal = st.text_area("Disposal plans (always internal)", value=rec.get("disposal_plans") or "")
        fv = rec.get("field_visibility") or {}
        hide = st.multiselect("Hide these fields from the public", [f for f in views.PUBLIC_FIELDS if f != "asset_id"],
                              default=[f for f, v in fv.items() if v == "internal" and f in views.PUBLIC_FIELDS],
                              format_func=_field_words)
        show = st.multiselect("Publish these internal fields", list(views.OPTIONAL_FIELDS),
                              default=[f for f, v in fv.items() if v == "public" and f in views.OPTIONAL_FIELDS],
                              format_func=_field_words)
        submitted = st.form_submit_button("Save", type="primary")
    if not submitted:
        return None
    changes = {"status": status, "notes": notes, "contact_route": contact, "disposal_plans": disposal,
               "vacant_since": vacant, "visibility": visibility, "name": name, "tenure": tenure, "uprn": uprn,
               "floor_area_m2": floor, "site_area_ha": site,
               "field_visibility": {**{f: "public" for f in views.PUBLIC_FIELDS if f in fv and f not in hide},
                                    **{f: "internal" for f in hide},
                                    **{f: "internal" for f in views.OPTIONAL_FIELDS if f not in show},
                                    **{f: "public" for f in show}}}
    return _save(store, role, aid, rec, changes, expected)


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _num_text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    text = str(v)
    return text[:-2] if text.endswith(".0") else text


BATCH_WORDS = {"batch_id": "Batch", "organisation": "Organisation", "imported_by": "Imported by",
               "imported_at": "When", "source_name": "File", "file_sha256": "File SHA-256", "rows": "Rows",
               "added": "Added", "changed": "Changed", "unchanged": "Unchanged", "removed": "No longer in the register"}
USER_WORDS = {"issuer": "Sign-in provider", "subject": "User", "role": "Role", "organisation": "Organisation",
              "added_by": "Given by", "added_at": "When"}
#: Field names in words (the history and the visibility choices).
FIELD_WORDS = {"asset_id": "asset id", "anchor_type": "owner type", "holding_type": "holding", "uprn": "UPRN",
               "floor_area_m2": "floor area (m²)", "site_area_ha": "site area (ha)", "empty_floor_pct":
               "floor reported empty (%)", "underused_floor_pct": "floor reported under-used (%)",
               "imd_decile": "IMD decile", "iod_year": "IoD edition", "need_area_code": "need area code",
               "need_area_name": "need area", "need_score": "need score", "need_decile": "need decile",
               "underuse_score": "underuse evidence", "underuse_confidence": "underuse confidence",
               "transfer_score": "transferability", "exclusion_reason": "why never flagged",
               "location_quality": "how it was placed", "location_note": "location note",
               "source_date": "record date", "contact_route": "contact route", "disposal_plans": "disposal plans",
               "vacant_since": "vacant since", "field_visibility": "fields shown to the public"}


def _field_words(field: str) -> str:
    return FIELD_WORDS.get(field, field.replace("_", " "))


def _contact_section(store, role: Role) -> None:
    """The estates contact route of an organisation: shown on every site card and site pack of its assets."""
    st.header("How people reach your estates team")
    orgs = store.organisations() if role.kind == "admin" else [role.organisation]
    if not orgs:
        return
    org = st.selectbox("Organisation", orgs, key="contact_org") if len(orgs) > 1 else orgs[0]
    cur = store.contacts(org).get(org) or {}
    st.caption(md(f"Shown on the card and site pack of every site of {org}. "
                  + (f"Version {cur['version']}, set by {cur['updated_by']} at {cur['updated_at'][:16]}."
                     if cur else "No contact is set yet: cards say so and give the organisation's name.")))
    with st.form(f"contact_{org}"):
        c1, c2 = st.columns(2)
        values = {f: (c1 if i % 2 == 0 else c2).text_input(CONTACT_LABELS[f], value=cur.get(f) or "",
                                                           key=f"contact_{f}_{org}")
                  for i, f in enumerate(CONTACT_FIELDS)}
        sent = st.form_submit_button("Save the contact")
    if sent:
        try:
            v = store.set_contact(org, values, role=role, expected_version=cur.get("version", 0))
        except (InputError, StoreError, NotAllowed) as exc:
            st.error(md(exc), icon=":material/block:")
        else:
            st.success(f"Saved the estates contact (version {v}).", icon=":material/check_circle:")


def _moderation_section(store, role: Role) -> None:
    st.header("Corrections from the public")
    queue = store.corrections(role=role)
    if not queue:
        st.caption("No corrections waiting.")
        return
    for c in queue:
        with st.container(border=True):
            st.text(f"#{c['id']} on {c['asset_id']} ({c['submitted_at'][:16]}, from {c['submitted_by']})")
            st.text(c["message"])
            if c["proposed"]:
                st.text("Proposes: " + ", ".join(f"{_field_words(k)}: {STATUS_LABELS.get(v, v) if k == 'status' else v}"
                                                 for k, v in c["proposed"].items()))
            if c["contact"]:
                st.text(f"Contact: {c['contact']}")
            note = st.text_input("Note", key=f"corr_note_{c['id']}")
            a, b = st.columns(2)
            try:
                if a.button("Accept", key=f"corr_ok_{c['id']}"):
                    v = store.decide_correction(c["id"], accept=True, role=role, note=note,
                                                expected_version=c["asset_version"])
                    st.success(f"Accepted{f'; the asset is now version {v}' if v else ''}.")
                if b.button("Reject", key=f"corr_no_{c['id']}"):
                    store.decide_correction(c["id"], accept=False, role=role, note=note)
                    st.info("Rejected.")
            except (ConflictError, StoreError, NotAllowed, InputError) as exc:
                st.error(md(exc))


def _users_section(store, role: Role) -> None:
    with st.expander("Users and roles"):
        users = pd.DataFrame(store.users(role=role), columns=list(USER_WORDS)).rename(columns=USER_WORDS)
        st.dataframe(users.fillna(""), hide_index=True)
        st.caption("An e-mail address gives a role only to a user whose sign-in provider verified it. To name "
                   "a user by the provider's subject id instead, give the provider's issuer URL too.")
        with st.form("add_user"):
            who = st.text_input("E-mail of the signed-in user (or their subject id)")
            issuer = st.text_input("Issuer URL (only with a subject id)")
            kind = st.selectbox("Role", ["viewer", "editor", "admin"])
            org = st.text_input("Organisation (editors)")
            if st.form_submit_button("Set role"):
                try:
                    store.set_user(who, kind, org.strip() or None, issuer=issuer.strip() or None, role=role)
                    st.success("Saved.")
                except (ValueError, NotAllowed, StoreError) as exc:
                    st.error(md(exc))


def _correction_form(store, role: Role) -> None:
    st.header("Have we got this wrong?")
    st.caption("Tell the owner what is wrong with a site. Your note goes to their moderation queue; "
               "nothing changes on the map until they check it.")
    public = store.assets(PUBLIC)  # corrections are about what the public sees
    if public.empty:
        st.caption("No public sites yet.")
        return
    labels = dict(zip(public["asset_id"], public["name"].fillna("(no name)"), strict=True))
    with st.form("correction"):
        aid = st.selectbox("Site", list(labels), format_func=lambda a: f"{labels[a]} ({a})")
        message = st.text_area("What is wrong?", max_chars=5000)
        status = st.selectbox("It is actually… (optional)", ["(not sure)"] + list(EDIT_STATUSES))
        contact = st.text_input("How can they reach you? (optional)", max_chars=300)
        sent = st.form_submit_button("Send to the owner")
    if sent:
        try:
            cid = store.submit_correction(aid, message=message, role=role if not role.local else PUBLIC,
                                          proposed={} if status == "(not sure)" else {"status": status},
                                          contact=contact or None, session=_session_id())
        except (InputError, StoreError) as exc:
            st.error(md(exc))
        else:
            st.success(f"Thank you: sent as correction #{cid}.")


def _session_id() -> str:
    """The browser session's id, for the store's rate limit on corrections (the store keeps only a hash)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and ctx.session_id:
        return ctx.session_id
    return st.session_state.setdefault("register_session", uuid.uuid4().hex)


def _date(v) -> dt.date | None:
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


def _s(v, n: int = 50) -> str:
    s = "empty" if v is None else str(v)
    return s if len(s) <= n else s[: n - 1] + "…"


if __name__ == "__main__":  # run as a page file by st.Page("assets_map/ui/register_page.py")
    render()
