"""The dashboard's pages and static files, served by the real application (TestClient)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from trialbook.dashboard import _pages as pages
from trialbook.dashboard import create_app

STATIC = Path(pages.__file__).with_name("static")
LOOPBACK = "http://127.0.0.1"
PAGE_URLS = ["/", "/runs/baseline-s1", "/compare?runs=a&groups=group:b", "/leaderboard"]


@pytest.fixture(scope="module")
def client(workspace: Any) -> TestClient:
    # A loopback Host: without a token the dashboard refuses other names (DNS rebinding).
    return TestClient(create_app(root=workspace.root), base_url=LOOPBACK)


@pytest.mark.parametrize("url", PAGE_URLS)
def test_every_page_is_an_html_shell_whose_scripts_are_files_of_the_server(
    client: TestClient, url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, "a page loads its module"
    for attrs, body in scripts:
        assert body.strip() == "", "no inline script (CSP script-src 'self')"
        src = re.search(r'src="([^"]+)"', attrs)
        assert src and src.group(1).startswith("/static/")
        assert client.get(src.group(1)).status_code == 200
    assert "http://" not in html and "https://" not in html, "nothing fetched from elsewhere"
    assert re.search(r"\son\w+=", html) is None, "no inline event handler"


def test_a_page_for_an_unknown_run_is_still_the_shell_the_api_says_what_is_missing(
    client: TestClient,
) -> None:
    response = client.get("/runs/no-such-run")
    assert response.status_code == 200
    assert 'src="/static/run.js"' in response.text


def test_plotly_is_served_from_the_installed_package_with_cache_headers(
    client: TestClient,
) -> None:
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age" in response.headers["cache-control"]
    assert "plotly.js v" in response.text[:200]
    path = pages.plotly_js()
    assert path is not None and response.content == path.read_bytes()


def test_serving_plotly_does_not_import_plotly(workspace: Any) -> None:
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from trialbook.dashboard import create_app\n"
        f"c = TestClient(create_app(root={str(workspace.root)!r}), base_url={LOOPBACK!r})\n"
        "assert c.get('/static/vendor/plotly.min.js').status_code == 200\n"
        "assert c.get('/').status_code == 200\n"
        "print(sorted(m for m in sys.modules if m == 'plotly' or m.startswith('plotly.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_plotly_installed_the_script_is_a_404_sentence_naming_the_package(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "plotly_js", lambda: None)
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 404
    assert "pip install plotly" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("common.js", "text/javascript"), ("style.css", "text/css"), ("favicon.svg", "image/svg+xml")],
)
def test_static_files_carry_their_content_type(client: TestClient, name: str, kind: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(kind)
    assert response.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../_pages.py",
        "/static/%2e%2e/_pages.py",
        "/static/..%2f_app.py",
        "/static/%2fetc%2fpasswd",
        "/static/no-such.js",
        "/static/",
    ],
)
def test_a_static_path_outside_the_folder_or_missing_is_a_404_with_a_sentence(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "detail" in response.json()
    assert "import" not in response.text


def test_a_symlink_in_the_static_folder_that_leaves_it_is_a_404(
    tmp_path: Path, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "ok.js").write_text("export {};\n", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve", encoding="utf-8")
    (folder / "leak.js").symlink_to(secret)
    monkeypatch.setattr(pages, "_STATIC", folder)
    assert client.get("/static/ok.js").status_code == 200
    response = client.get("/static/leak.js")
    assert response.status_code == 404
    assert "do not serve" not in response.text


def test_the_scripts_never_write_html_from_data() -> None:
    # Every user string reaches the page through textContent: no innerHTML, outerHTML,
    # insertAdjacentHTML, document.write, eval or string timers anywhere in the scripts.
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setTimeout\(\s*['\"`]|setInterval\(\s*['\"`]|scattergl"
    )
    scripts = sorted(STATIC.glob("*.js"))
    assert len(scripts) >= 5
    for script in scripts:
        hits = forbidden.findall(script.read_text(encoding="utf-8"))
        assert hits == [], f"{script.name}: {hits}"


def test_the_pages_are_left_out_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/api/")]
