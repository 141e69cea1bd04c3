"""Who gets which view, end to end: a real Streamlit server, chromium, and a real OIDC provider.

* Sign-in: a small OpenID Connect provider runs on 127.0.0.1 in this process (discovery,
  authorize, token and JWKS endpoints; RS256-signed ID tokens made with joserfc, Authlib's JOSE library).
  Streamlit's own st.login (Authlib) signs chromium in through it; the Register page then
  shows the role the store gives the verified identity. Roles come only from verified
  claims: an unverified e-mail, or a ``sub`` spelled like an admin's e-mail, gives the public view.
* No sign-in: with the server listening on all interfaces, a browser reaching it through this
  machine's network address gets the public view only, a loopback browser gets local mode,
  and a loopback browser behind a proxy header is public too. With the shipped config the
  server does not listen on the network address at all.

Every browser context reaches only the app and the provider (all other requests blocked).
"""
from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assets_map.cli import main as cli
from tests.helpers import CHROMIUM, LAUNCH_ARGS, free_port, offline_context, require_browser, streamlit_app

pytestmark = pytest.mark.browser

ADMIN = "admin@example.org"
ORG = "Ashbridge (fictional)"
CLIENT_ID, CLIENT_SECRET = "assets-map-test", secrets.token_urlsafe(16)


class Provider:
    """A minimal OpenID Connect provider (authorization code flow) on 127.0.0.1.

    ``next_claims`` are the claims of the account the next sign-in picks (the test plays
    the user choosing an account at the provider).
    """

    def __init__(self):
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"},
                                       private=True)
        self.codes: dict[str, dict] = {}
        self.next_claims: dict = {}
        self.issued: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def metadata(self) -> dict:
        return {"issuer": self.url, "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token", "jwks_uri": self.url + "/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def id_token(self, claims: dict, nonce: str | None) -> str:
        from joserfc import jwt

        now = int(time.time())
        payload = {"iss": self.url, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **claims}
        if nonce:
            payload["nonce"] = nonce
        self.issued.append(payload)
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, payload, self.key)

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    return self._json(200, provider.metadata())
                if url.path == "/jwks":
                    return self._json(200, {"keys": [provider.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    q = dict(urllib.parse.parse_qsl(url.query))
                    if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
                        return self._json(400, {"error": "invalid_request"})
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {"claims": dict(provider.next_claims), "nonce": q.get("nonce"),
                                            "redirect_uri": q["redirect_uri"]}
                    target = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return None
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                if urllib.parse.urlsplit(self.path).path != "/token":
                    return self._json(404, {"error": "not_found"})
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                client = (form.get("client_id"), form.get("client_secret"))
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    client = tuple(urllib.parse.unquote(p) for p in
                                   base64.b64decode(auth[6:]).decode().split(":", 1))
                if client != (CLIENT_ID, CLIENT_SECRET):
                    return self._json(401, {"error": "invalid_client"})
                grant = provider.codes.pop(form.get("code", ""), None)
                if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                    return self._json(400, {"error": "invalid_grant"})
                return self._json(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                        "expires_in": 300, "id_token": provider.id_token(grant["claims"],
                                                                                         grant["nonce"])})

        return Handler

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def provider():
    with Provider() as p:
        yield p


@pytest.fixture(scope="module")
def signed_in_app(provider, tmp_path_factory, browser):
    """The app with sign-in through ``provider``, its register's roles set with the command line."""
    d = tmp_path_factory.mktemp("auth")
    store = d / "register.sqlite"
    assert cli(["store", "--store", str(store), "role", ADMIN, "admin"]) == 0
    assert cli(["store", "--store", str(store), "role", "u-editor", "editor", "--organisation", ORG,
                "--issuer", provider.url]) == 0
    port = free_port()
    (d / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(24)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.url}/.well-known/openid-configuration"\n')
    with streamlit_app("--server.address", "127.0.0.1", "--secrets.files", str(d / "secrets.toml"), port=port,
                       env={"ASSETS_MAP_STORE": str(store), "ASSETS_MAP_DATABASE_URL": ""}) as url:
        yield url


def _register_text(page, url: str) -> str:
    """The Register page's main text once it has drawn its first section (and the sidebar's mode line)."""
    page.goto(url + "/register")
    page.get_by_text("Have we got this wrong?").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    return page.inner_text("body")


def _sign_in(browser, provider, url: str, claims: dict) -> str:
    provider.next_claims = claims
    context, blocked = offline_context(browser, (url, provider.url))
    try:
        page = context.new_page()
        _register_text(page, url)
        page.get_by_role("button", name="Sign in (estates teams)").click()
        page.get_by_text("Signed in").first.wait_for(timeout=60_000)  # back from the provider, signed in
        text = _register_text(page, url)
        assert not blocked, blocked
        return text
    finally:
        context.close()


EDITING = ("Correct an asset", "Corrections from the public", "Put the data in use into the register")


def test_roles_come_only_from_verified_claims(browser, provider, signed_in_app):
    url = signed_in_app
    # The admin the command line made, signing in with the address verified: admin.
    text = _sign_in(browser, provider, url, {"sub": "u-admin", "email": ADMIN, "email_verified": True})
    assert f"Signed in as {ADMIN}: admin" in text
    assert all(s in text for s in EDITING) and "Users and roles" in text
    assert provider.issued[-1]["email_verified"] is True and provider.issued[-1]["iss"] == provider.url

    # Someone else whose provider did not verify that address: the public view, and why.
    for flag in (False, "false"):
        text = _sign_in(browser, provider, url, {"sub": "u-mallory", "email": ADMIN, "email_verified": flag})
        assert "has not verified the e-mail address" in text
        assert not any(s in text for s in EDITING) and "Users and roles" not in text
        assert "Public view" in text or "viewer" in text

    # A subject spelled like the admin's address, with no verified e-mail: the public view.
    text = _sign_in(browser, provider, url, {"sub": ADMIN})
    assert f"Signed in as {ADMIN} at {provider.url}: viewer" in text
    assert not any(s in text for s in EDITING)

    # A subject given a role with its issuer (assets-map store role ... --issuer): that role.
    text = _sign_in(browser, provider, url, {"sub": "u-editor"})
    assert f"editor for {ORG}" in text and "Correct an asset" in text and "Users and roles" not in text


def _network_address() -> tuple[str | None, list[list[str]]]:
    """A non-loopback IPv4 address of this machine, and the commands that undo any change made for it."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split() \
        if shutil.which("hostname") else []
    for a in found:
        ip = ipaddress.ip_address(a)
        if ip.version == 4 and not ip.is_loopback and not ip.is_link_local:
            return a, []
    # None configured: add one to the loopback interface (as root, e.g. in CI); the kernel then
    # uses it, not 127.0.0.1, as the source of connections to it.
    extra = "10.200.0.1"
    if shutil.which("ip") and subprocess.run(["ip", "addr", "add", f"{extra}/32", "dev", "lo"],
                                             capture_output=True).returncode == 0:
        return extra, [["ip", "addr", "del", f"{extra}/32", "dev", "lo"]]
    return None, []


@pytest.fixture(scope="module")
def network_address():
    address, undo = _network_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address and none could be added (needs root); "
                    "test_identity.py checks the decision with remote and proxied peers")
    yield address
    for cmd in undo:
        subprocess.run(cmd, check=False)


def _mode(browser, base: str, **options) -> str:
    context, blocked = offline_context(browser, base, **options)
    try:
        text = _register_text(context.new_page(), base)
        assert not blocked, blocked
        return text
    finally:
        context.close()


def test_without_sign_in_only_a_loopback_browser_may_edit(browser, network_address, tmp_path):
    env = {"ASSETS_MAP_STORE": str(tmp_path / "register.sqlite"), "ASSETS_MAP_DATABASE_URL": ""}
    with streamlit_app("--server.address", "0.0.0.0", env=env) as local:
        remote = local.replace("127.0.0.1", network_address)
        text = _mode(browser, remote)
        assert "Public view" in text and "public register" in text
        assert not any(s in text for s in EDITING) and "Local mode" not in text
        # The same machine through a proxy that says whom it forwards for: public too.
        text = _mode(browser, local, extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
        assert "Public view" in text and not any(s in text for s in EDITING)
        text = _mode(browser, local)
        assert "Local mode" in text and all(s in text for s in EDITING)


def test_shipped_config_listens_on_loopback_only(network_address, tmp_path):
    env = {"ASSETS_MAP_STORE": str(tmp_path / "register.sqlite"), "ASSETS_MAP_DATABASE_URL": ""}
    with streamlit_app(env=env) as local:  # no --server.address: .streamlit/config.toml decides
        port = int(local.rsplit(":", 1)[1])
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((network_address, port), timeout=5).close()
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
