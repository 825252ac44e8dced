"""Who may reach the served dashboard: loopback by default, named origins, optional login."""

import asyncio
import re
import socket
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from widgets import cli
from widgets.app import serving_options
from widgets.common import MAX_UPLOAD_BYTES


def test_loopback_accepts_only_pages_from_localhost():
    opts = serving_options(port=5006)
    assert opts["address"] == "127.0.0.1"
    assert opts["websocket_origin"] == ["localhost:5006", "127.0.0.1:5006"]
    assert "basic_auth" not in opts
    # The largest upload the pages accept fits in one websocket message, base64 and all.
    assert opts["websocket_max_message_size"] >= MAX_UPLOAD_BYTES * 4 // 3


def test_exposure_needs_named_origins_and_never_a_wildcard():
    with pytest.raises(ValueError, match="address: '0.0.0.0' exposes the dashboard"):
        serving_options(port=5006, address="0.0.0.0")
    with pytest.raises(ValueError, match="allow_websocket_origin: name the hosts"):
        serving_options(port=5006, address="0.0.0.0", allow_websocket_origin=["*"])
    opts = serving_options(port=5006, address="0.0.0.0", allow_websocket_origin=["lab.example.org:5006"])
    assert opts["websocket_origin"] == ["lab.example.org:5006"]


def test_basic_auth_gets_a_fresh_cookie_secret():
    a = serving_options(port=1, basic_auth="s3cret")
    b = serving_options(port=1, basic_auth="s3cret")
    assert a["basic_auth"] == "s3cret" and len(a["cookie_secret"]) >= 32 and a["cookie_secret"] != b["cookie_secret"]
    with pytest.raises(ValueError, match="basic_auth"):
        serving_options(port=1, basic_auth="  ")


def test_the_cli_refuses_an_unsafe_exposure_before_listening(capsys):
    assert cli.main(["serve", "--address", "0.0.0.0", "--port", "1", "--no-show"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ortholab serve: address:") and "--allow-websocket-origin" in err


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent; this only picks the outgoing interface
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_the_served_dashboard_listens_on_loopback_only(dashboard):
    port = int(dashboard.url.rsplit(":", 1)[1])
    with urllib.request.urlopen(dashboard.url + "/", timeout=10) as r:
        assert r.status == 200
    ip = _non_loopback_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    with pytest.raises(OSError):
        socket.create_connection((ip, port), timeout=3).close()


def _session_token(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as r:
        page = r.read().decode()
    m = re.search(r'"token":\s*"([^"]+)"', page) or re.search(r"token&quot;: &quot;([^&]+)&quot;", page)
    assert m, "no session token in the page"
    return m.group(1)


def _open_websocket(base: str, route: str, origin: str) -> int:
    """Open the page's websocket with a valid session token from ``origin``; the HTTP status."""
    token = _session_token(f"{base}{route}")
    ws_url = base.replace("http://", "ws://") + route.rstrip("/") + "/ws"

    async def attempt() -> int:
        req = HTTPRequest(ws_url, headers={"Origin": origin})
        try:
            conn = await websocket_connect(req, subprotocols=["bokeh", token])
        except HTTPClientError as exc:
            return exc.code
        conn.close()
        return 101

    # Its own thread and loop: Playwright's sync API may already run a loop in this thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(attempt(), 60)).result()


def test_a_page_from_another_site_cannot_open_a_session(dashboard):
    # Cross-site websocket hijacking: the same valid token, presented by a foreign page, is refused.
    assert _open_websocket(dashboard.url, "/", "http://evil.example") == 403
    port = dashboard.url.rsplit(":", 1)[1]
    assert _open_websocket(dashboard.url, "/", f"http://127.0.0.1:{port}") == 101


def test_serve_refuses_a_data_dir_that_is_not_a_folder(capsys, tmp_path):
    assert cli.main(["serve", "--data-dir", str(tmp_path / "missing"), "--port", "1", "--no-show"]) == 2
    assert "data_dir:" in capsys.readouterr().err


def test_set_allowed_dirs_replaces_the_defaults(tmp_path):
    from widgets import common

    before = list(common._ALLOWED_DIRS)
    try:
        assert common.set_allowed_dirs([tmp_path]) == [tmp_path.resolve()]
        assert common.allowed_dirs() == [tmp_path.resolve()]
    finally:
        common._ALLOWED_DIRS[:] = before
