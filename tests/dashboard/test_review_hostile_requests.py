"""Hostile requests against the dashboard served by a real uvicorn on 127.0.0.1: every GET
endpoint of the published OpenAPI schema with hostile query values, path traversal on files
and static files (sent byte for byte, not normalised by a client), a token-guarded server that
answers 401 on every endpoint, writes without Origin/CSRF, and the caps that bound responses."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest

LiveServer = Any  # the conftest's live uvicorn server
Workspace = Any  # the conftest's workspace with run ids by name

HOSTILE_VALUES = [
    "<script>window.__pwned=1</script>",
    "-1",
    "99999999999999999999",
    "-99999999999999999999",
    "nan",
    "inf",
    "1e309",
    "",
    "\u0000",
    "%00",
    "' OR 1=1 --",
    "../../../etc/passwd",
    "é" * 300,
    "x" * 5000,
    "{",
    "true",
]


def _get(
    url: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """One GET with ``path`` sent exactly as given (no dot-segment normalisation)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@pytest.fixture(scope="module")
def schema(live: LiveServer) -> dict[str, Any]:
    status, body, _ = _get(live.url, "/api/openapi.json")
    assert status == 200
    return dict(json.loads(body))


def _get_endpoints(schema: dict[str, Any]) -> list[tuple[str, list[str]]]:
    endpoints = []
    for path, operations in schema["paths"].items():
        if "get" in operations:
            names = [
                p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"
            ]
            endpoints.append((path, names))
    return endpoints


def _concrete(path: str, run_id: str) -> str:
    return path.replace("{ref}", run_id).replace("{path}", "checkpoint/model.pt")


def _assert_one_sentence_error(status: int, body: bytes, what: str) -> None:
    assert status in (404, 422), what
    detail = json.loads(body)["detail"]
    assert isinstance(detail, str), what
    assert "Traceback" not in detail and 'File "' not in detail, what
    assert detail.endswith((".", "?", ")")), (what, detail)


def test_every_get_endpoint_answers_hostile_query_values_without_a_500(
    live: LiveServer, workspace: Workspace, schema: dict[str, Any]
) -> None:
    run_id = workspace.ids["baseline-s1"]
    endpoints = _get_endpoints(schema)
    assert len(endpoints) >= 15  # the schema really lists the API
    tried = 0
    for path, names in endpoints:
        for name in names:
            for value in HOSTILE_VALUES:
                url = f"{_concrete(path, run_id)}?{_query({name: value})}"
                status, body, _ = _get(live.url, url)
                tried += 1
                assert status < 500, (url, body[:300])
                if status != 200:
                    _assert_one_sentence_error(status, body, url)
    assert tried > 300


@pytest.mark.parametrize("ref", ["<script>x</script>", "..", "%2e%2e", "a" * 3000, "%00", "*"])
def test_a_hostile_run_reference_is_a_404_or_422_on_every_run_endpoint(
    live: LiveServer, schema: dict[str, Any], ref: str
) -> None:
    for path, _ in _get_endpoints(schema):
        if "{ref}" not in path:
            continue
        url = path.replace("{ref}", ref).replace("{path}", "x")
        status, body, _ = _get(live.url, url)
        if status == 200 and ref == "..":  # "/api/runs/../x" may resolve to another route
            continue
        assert status in (404, 422), (url, status, body[:200])
        if body.startswith(b"{"):
            _assert_one_sentence_error(status, body, url)


TRAVERSALS = [
    "../run.json",
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5c..%5c..%5cetc%5cpasswd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//etc/passwd",
    "checkpoints/../../../../etc/passwd",
    "checkpoint/model.pt%00.png",
    "....//....//etc/passwd",
    "%252e%252e%252fetc%252fpasswd",
]


@pytest.mark.parametrize("tail", TRAVERSALS)
def test_run_files_never_leave_the_run_folder(
    live: LiveServer, workspace: Workspace, tail: str
) -> None:
    run_id = workspace.ids["baseline-s1"]
    status, body, _ = _get(live.url, f"/api/runs/{run_id}/files/{tail}")

    assert status in (404, 422), (tail, status)
    assert b"root:" not in body
    assert b'"id"' not in body or status != 200


@pytest.mark.parametrize(
    "tail",
    [
        "../_app.py",
        "..%2f_app.py",
        "%2e%2e/_app.py",
        "%2e%2e%2f_security.py",
        "vendor/../../_app.py",
        "vendor/..%2f..%2f_app.py",
        "vendor/%2e%2e/%2e%2e/_app.py",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "..%5c_app.py",
        "runs.js%00.html",
    ],
)
def test_static_files_never_leave_the_static_folder(live: LiveServer, tail: str) -> None:
    status, body, _ = _get(live.url, f"/static/{tail}")

    assert status in (404, 422), (tail, status)
    assert b"import" not in body and b"root:" not in body


def test_the_files_served_from_a_run_folder_are_found_inside_it(
    live: LiveServer, workspace: Workspace
) -> None:
    run_id = workspace.ids["baseline-s1"]
    status, body, headers = _get(live.url, f"/api/runs/{run_id}/files/checkpoint/model.pt")

    assert status == 200 and body == b"\0" * 256
    assert "attachment" in headers["content-disposition"]


# --------------------------------------------------------------------------- token


TOKEN = "review-token-0123456789"


@pytest.fixture
def guarded(serve: Callable[..., LiveServer], workspace: Workspace) -> LiveServer:
    return serve(workspace.root, token=TOKEN)


def test_a_token_server_answers_401_on_every_endpoint_and_page_without_it(
    guarded: LiveServer, workspace: Workspace, schema: dict[str, Any]
) -> None:
    run_id = workspace.ids["baseline-s1"]
    paths = [_concrete(p, run_id) for p, _ in _get_endpoints(schema)]
    paths += [
        "/api/openapi.json",
        "/",
        f"/runs/{run_id}",
        "/compare",
        "/leaderboard",
        "/static/runs.js",
        "/static/vendor/plotly.min.js",
        "/static/style.css",
        "/nowhere",
        "/api/nowhere",
    ]
    for path in paths:
        for headers in [
            {},
            {"Authorization": "Bearer wrong"},
            {"Cookie": f"trialbook_token_{guarded.port}=wrong"},
        ]:
            status, body, _ = _get(guarded.url, path, headers)
            assert status == 401, (path, headers, status)
            assert TOKEN.encode() not in body
        status, _, _ = _get(guarded.url, f"{path}{'&' if '?' in path else '?'}token=wrong")
        assert status == 401, path


def test_a_token_server_serves_every_endpoint_with_the_bearer_token(
    guarded: LiveServer, workspace: Workspace, schema: dict[str, Any]
) -> None:
    run_id = workspace.ids["baseline-s1"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in [
        "/api/runs",
        "/api/facets",
        f"/api/runs/{run_id}",
        f"/api/runs/{run_id}/metrics",
        "/",
        "/static/runs.js",
    ]:
        status, _, _ = _get(guarded.url, path, auth)
        assert status == 200, path


# --------------------------------------------------------------------------- writes


def _post(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", **headers},
        )
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_writes_are_refused_on_a_read_only_server(live: LiveServer, workspace: Workspace) -> None:
    run_id = workspace.ids["baseline-s1"]
    for path, body in [
        (f"/api/runs/{run_id}/tags", {"add": ["x"]}),
        (f"/api/runs/{run_id}/notes", {"notes": "x"}),
    ]:
        status, text = _post(live.url, path, body, {"Origin": live.url})
        assert status == 405, text


def test_writes_without_the_origin_or_the_csrf_token_are_403(
    serve: Callable[..., LiveServer], workspace: Workspace
) -> None:
    server = serve(workspace.root, writable=True)
    run_id = workspace.ids["baseline-s2"]
    path = f"/api/runs/{run_id}/tags"
    body = {"add": ["csrf-probe"]}
    csrf = "a" * 32
    cookie = f"trialbook_csrf={csrf}"
    attempts = [
        {},
        {"Cookie": cookie, "X-CSRF-Token": csrf},  # no Origin
        {"Origin": "http://evil.example", "Cookie": cookie, "X-CSRF-Token": csrf},
        {"Origin": "null", "Cookie": cookie, "X-CSRF-Token": csrf},
        {"Origin": f"{server.url}.evil.example", "Cookie": cookie, "X-CSRF-Token": csrf},
        {"Origin": server.url},  # no token at all
        {"Origin": server.url, "X-CSRF-Token": csrf},  # header but no cookie
        {"Origin": server.url, "Cookie": cookie},  # cookie but no header
        {"Origin": server.url, "Cookie": cookie, "X-CSRF-Token": "b" * 32},
        {"Origin": server.url, "Cookie": "trialbook_csrf=", "X-CSRF-Token": ""},
    ]
    for headers in attempts:
        status, text = _post(server.url, path, body, headers)
        assert status == 403, (headers, status, text)
        assert isinstance(json.loads(text)["detail"], str)

    status, document, _ = _get(server.url, f"/api/runs/{run_id}")
    assert status == 200 and "csrf-probe" not in json.loads(document)["tags"]

    status, text = _post(
        server.url,
        path,
        {"add": ["csrf-ok"]},
        {"Origin": server.url, "Cookie": cookie, "X-CSRF-Token": csrf},
    )
    assert status == 200, text
    status, text = _post(
        server.url,
        path,
        {"remove": ["csrf-ok"]},
        {"Origin": server.url, "Cookie": cookie, "X-CSRF-Token": csrf},
    )
    assert status == 200, text


# --------------------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    ("path", "name", "cap"),
    [
        ("/api/runs", "limit", 500),
        ("/api/groups", "limit", 500),
        ("/api/columns", "limit", 200),
        ("/api/runs/{ref}/metrics", "limit", 200),
        ("/api/runs/{ref}/samples", "limit", 500),
        ("/api/runs/{ref}/history", "points", 5000),
        ("/api/compare/history", "points", 5000),
    ],
)
def test_caps_above_the_bound_are_422_naming_the_parameter(
    live: LiveServer, workspace: Workspace, path: str, name: str, cap: int
) -> None:
    run_id = workspace.ids["baseline-s1"]
    extra = {"key": "loss", "runs": run_id} if "history" in path else {}
    base = _concrete(path, run_id)
    status, body, _ = _get(live.url, f"{base}?{_query({**extra, name: str(cap)})}")
    assert status == 200, body[:300]
    status, body, _ = _get(live.url, f"{base}?{_query({**extra, name: str(cap + 1)})}")
    assert status == 422
    assert json.loads(body)["detail"].startswith(f"{name}=")


def test_a_huge_offset_is_a_422_not_a_database_overflow(live: LiveServer) -> None:
    status, body, _ = _get(live.url, "/api/runs?offset=99999999999999999999")

    assert status == 422
    assert json.loads(body)["detail"].startswith("offset=")


def test_more_compare_entries_than_the_cap_is_a_422_naming_it(
    live: LiveServer, workspace: Workspace
) -> None:
    refs = "&".join(f"runs={workspace.ids['baseline-s1']}" for _ in range(201))
    for path in ["/api/compare", "/api/compare/history?key=loss&"]:
        sep = "" if path.endswith("&") else "?"
        status, body, _ = _get(live.url, f"{path}{sep}{refs}")
        assert status == 422, (path, body[:200])
        assert "200" in json.loads(body)["detail"]


def test_a_downsampled_history_never_exceeds_the_points_asked(
    live: LiveServer, workspace: Workspace
) -> None:
    run_id = workspace.ids["baseline-s1"]
    status, body, _ = _get(live.url, f"/api/runs/{run_id}/history?key=loss&points=10")
    data = json.loads(body)

    assert status == 200
    assert data["sampled"] is True and data["total"] > 10
    assert 0 < len(data["x"]) <= 10 and len(data["x"]) == len(data["y"])


def test_a_log_tail_never_exceeds_the_bytes_asked(live: LiveServer, workspace: Workspace) -> None:
    run_id = workspace.ids["baseline-s1"]
    status, body, _ = _get(live.url, f"/api/runs/{run_id}/logs?stream=stdout&limit=5")

    assert status == 200
    assert len(json.loads(body)["text"].encode()) <= 5


def test_a_files_path_naming_a_folder_is_a_404(live: LiveServer, workspace: Workspace) -> None:
    run_id = workspace.ids["baseline-s1"]
    for tail in ["", "checkpoint", "checkpoint/", "."]:
        status, _, _ = _get(live.url, f"/api/runs/{run_id}/files/{tail}")
        assert status == 404, tail
