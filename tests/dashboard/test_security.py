"""The dashboard's guards over a real workspace: token (query, cookie, bearer), Host check
against DNS rebinding, security headers on every response, and writes' CSRF checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import trialbook
from trialbook.dashboard import DashboardSettings, create_app
from trialbook.dashboard._security import CONTENT_SECURITY_POLICY

TOKEN = "s3cret-token-for-tests"
BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("security") / "experiments"
    with trialbook.start_run(
        "e", {"a": 1}, root=root, system_metrics=False, capture_packages=False
    ) as run:
        run.log({"loss": 1.0})
    return root


@pytest.fixture
def guarded(root: Path) -> Iterator[TestClient]:
    app = create_app(root, settings=DashboardSettings(token=TOKEN))
    with TestClient(app, base_url="http://203.0.113.7:8765", follow_redirects=False) as c:
        yield c


@pytest.fixture
def open_client(root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(root), base_url=BASE, follow_redirects=False) as c:
        yield c


def assert_security_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/api/runs", "/api/openapi.json", "/", "/static/app.js"])
def test_without_the_token_every_path_is_401(guarded: TestClient, path: str) -> None:
    response = guarded.get(path)

    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert_security_headers(response)


def test_a_wrong_token_is_401_however_it_comes(guarded: TestClient) -> None:
    assert guarded.get("/api/runs", params={"token": "nope"}).status_code == 401
    assert guarded.get("/api/runs", headers={"Authorization": "Bearer nope"}).status_code == 401
    guarded.cookies.set("trialbook_token_8765", "nope")
    assert guarded.get("/api/runs").status_code == 401


def test_the_token_in_the_url_becomes_a_strict_http_only_cookie(guarded: TestClient) -> None:
    response = guarded.get("/api/runs", params={"token": TOKEN, "limit": "5"})

    assert response.status_code == 303
    assert response.headers["location"] == "/api/runs?limit=5"
    cookie = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith("trialbook_token")
    )
    # Named by the server's port: two dashboards on one host keep their own tokens.
    assert cookie.startswith(f"trialbook_token_8765={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    followed = guarded.get("/api/runs", params={"limit": "5"})
    assert followed.status_code == 200 and followed.json()["total"] == 1


def test_a_bearer_token_is_accepted_on_any_host(guarded: TestClient) -> None:
    response = guarded.get(
        "/api/facets", headers={"Authorization": f"Bearer {TOKEN}", "Host": "lab.example:8765"}
    )

    assert response.status_code == 200
    assert_security_headers(response)


def test_the_login_redirect_never_leaves_the_server(guarded: TestClient) -> None:
    # "/%2Fevil.example/x" reaches the server as the path "//evil.example/x".
    response = guarded.get("/%2Fevil.example/x", params={"token": TOKEN})

    assert response.status_code == 303
    assert response.headers["location"] == "/%2Fevil.example/x"


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "127.0.0.2"])
def test_without_a_token_loopback_hosts_are_served(open_client: TestClient, host: str) -> None:
    response = open_client.get("/api/facets", headers={"Host": host})

    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example"])
def test_without_a_token_other_hosts_are_refused(open_client: TestClient, host: str) -> None:
    response = open_client.get("/api/facets", headers={"Host": host})

    assert response.status_code == 403
    assert "Host" in response.json()["detail"] and "--token" in response.json()["detail"]
    assert_security_headers(response)


def test_the_bound_host_may_be_allowed(root: Path) -> None:
    settings = DashboardSettings(allowed_hosts=("box.lan",))
    with TestClient(create_app(root, settings=settings), base_url="http://box.lan:8765") as c:
        assert c.get("/api/facets").status_code == 200
        assert c.get("/api/facets", headers={"Host": "other.lan"}).status_code == 403


def test_errors_and_missing_paths_carry_the_headers_too(open_client: TestClient) -> None:
    for response in (
        open_client.get("/api/runs", params={"limit": 9999}),
        open_client.get("/api/nothing-here"),
        open_client.post("/api/runs/x/tags", json={}),
    ):
        assert response.status_code in (404, 405, 422)
        assert_security_headers(response)
        assert "Traceback" not in response.text


def test_every_response_hands_out_a_csrf_cookie_the_page_can_read(
    open_client: TestClient,
) -> None:
    response = open_client.get("/api/facets")
    cookie = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith("trialbook_csrf=")
    )

    assert "SameSite=Strict" in cookie and "HttpOnly" not in cookie
    again = open_client.get("/api/facets")
    assert not any(v.startswith("trialbook_csrf=") for v in again.headers.get_list("set-cookie"))


def test_writes_with_a_token_still_need_origin_and_csrf(root: Path) -> None:
    settings = DashboardSettings(token=TOKEN, writable=True)
    with TestClient(create_app(root, settings=settings), base_url=BASE) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        run_id = c.get("/api/runs").json()["runs"][0]["id"]
        csrf = c.cookies["trialbook_csrf"]
        url = f"/api/runs/{run_id}/notes"

        assert c.post(url, json={"notes": "x"}).status_code == 403
        good = {"Origin": BASE, "X-CSRF-Token": csrf}
        assert c.post(url, json={"notes": "x"}, headers=good).status_code == 200
        del c.headers["Authorization"]
        assert c.post(url, json={"notes": "y"}, headers=good).status_code == 401


def test_the_login_redirect_keeps_an_encoded_path_encoded(guarded: TestClient) -> None:
    response = guarded.get("/runs/caf%C3%A9%20run", params={"token": TOKEN})

    assert response.status_code == 303
    assert response.headers["location"] == "/runs/caf%C3%A9%20run"


def test_the_session_says_whether_tags_and_notes_can_be_changed(root: Path) -> None:
    from trialbook import __version__

    with TestClient(create_app(root), base_url=BASE) as c:
        assert c.get("/api/session").json() == {"writable": False, "version": __version__}
    app = create_app(root, settings=DashboardSettings(writable=True))
    with TestClient(app, base_url=BASE) as c:
        assert c.get("/api/session").json()["writable"] is True
        # A workspace this process cannot write (what connect() records for a read-only
        # file) makes even a --writable dashboard read-only.
        app.state.dashboard.store.read_only = "The workspace is read-only."
        assert c.get("/api/session").json()["writable"] is False
