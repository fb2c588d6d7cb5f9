"""OpenAICompatible against a real HTTP server on localhost that speaks the OpenAI shapes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from trialbook.errors import ConfigError, ModelError, TrialbookError
from trialbook.evaluation.models import OpenAICompatible

# A response the server gives instead of its default echo: (status, headers, JSON body).
Scripted = tuple[int, dict[str, str], Any]


@dataclass
class FakeOpenAI:
    """What the server saw and what it should answer."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    # Called with the server's state while a request is counted in flight.
    during: Callable[[FakeOpenAI], None] | None = None
    release: threading.Event = field(default_factory=threading.Event)
    clients: list[OpenAICompatible] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Scripted:
        with self.cond:
            self.requests.append((path, headers, body))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.cond.notify_all()
            scripted = self.script.pop(0) if self.script else None
        try:
            if self.during is not None:
                self.during(self)
        finally:
            with self.cond:
                self.in_flight -= 1
                self.cond.notify_all()
        if scripted is not None:
            return scripted
        if path.endswith("/chat/completions"):
            text = "echo: " + body["messages"][0]["content"]
            return 200, {}, {"choices": [{"message": {"role": "assistant", "content": text}}]}
        return 200, {}, {"choices": [{"text": "echo: " + body["prompt"]}]}


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    state = FakeOpenAI()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; Nagle would hold the second one back.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            status, headers, payload = state.answer(self.path, dict(self.headers), body)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (a timeout test): nothing to answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        for client in state.clients:
            client.close()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


class Waits:
    """Records the delays between retries instead of spending them."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, cancel: threading.Event, delay: float) -> bool:
        with self.lock:
            self.delays.append(delay)
        return cancel.is_set()


def make(server: FakeOpenAI, **options: Any) -> tuple[OpenAICompatible, Waits]:
    model = OpenAICompatible(server.url, "tiny-model", **options)
    waits = Waits()
    model._wait = waits
    server.clients.append(model)
    return model, waits


def test_outputs_come_back_in_prompt_order(server: FakeOpenAI) -> None:
    model, _ = make(server, concurrency=4, max_tokens=12)
    prompts = [f"question {i}" for i in range(25)]
    try:
        assert model.generate(prompts) == [f"echo: question {i}" for i in range(25)]
    finally:
        model.close()
    assert len(server.requests) == 25
    path, _, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "tiny-model"
    assert body["max_tokens"] == 12
    assert body["temperature"] == 0.0
    assert "stop" not in body
    assert len(body["messages"]) == 1 and body["messages"][0]["role"] == "user"
    assert model.name == "tiny-model"
    assert model.batch_size == 16  # four requests' worth per concurrent slot


def test_completions_api_sends_the_prompt_and_stop_strings(server: FakeOpenAI) -> None:
    model, _ = make(server, chat=False, stop="\n\n")
    assert model.generate(["2+2=", "3+3="]) == ["echo: 2+2=", "echo: 3+3="]
    path, _, body = server.requests[0]
    assert path == "/v1/completions"
    assert body["prompt"] in ("2+2=", "3+3=")
    assert body["stop"] == ["\n\n"]


def test_api_key_comes_from_the_environment(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    make(server)[0].generate(["a"])
    monkeypatch.delenv("OPENAI_API_KEY")
    make(server)[0].generate(["b"])
    make(server, api_key="sk-given")[0].generate(["c"])
    keys = [
        {k.lower(): v for k, v in h.items()}.get("authorization") for _, h, _ in server.requests
    ]
    assert keys == ["Bearer sk-from-env", None, "Bearer sk-given"]


def test_no_more_requests_in_flight_than_the_concurrency(server: FakeOpenAI) -> None:
    total, limit = 12, 3
    server.during = lambda state: state.release.wait(10) and None  # hold the first wave
    model, _ = make(server, concurrency=limit)
    outputs: list[str] = []
    client = threading.Thread(target=lambda: outputs.extend(model.generate(list("abcdefghijkl"))))
    client.start()
    with server.cond:
        assert server.cond.wait_for(lambda: server.in_flight == limit, timeout=10)
        # A client ignoring the limit would have sent more by now; watch for it a moment.
        assert not server.cond.wait_for(lambda: server.in_flight > limit, timeout=0.3)
    server.release.set()
    client.join(timeout=10)
    assert outputs == [f"echo: {c}" for c in "abcdefghijkl"]
    assert len(server.requests) == total
    assert server.max_in_flight == limit


def test_server_errors_are_retried_with_exponential_backoff(server: FakeOpenAI) -> None:
    error = {"error": {"message": "the GPU caught fire"}}
    server.script = [(500, {}, error), (503, {}, error)]
    model, waits = make(server, max_retries=3, backoff=0.1)
    assert model.generate(["hello"]) == ["echo: hello"]
    assert len(server.requests) == 3
    first, second = waits.delays
    assert 0.1 <= first <= 0.125 and 0.2 <= second <= 0.25  # backoff, doubled, + jitter


def test_retries_run_out_with_the_servers_message(server: FakeOpenAI) -> None:
    server.script = [(500, {}, {"error": {"message": "out of memory"}})] * 3
    model, waits = make(server, max_retries=2, backoff=0.01)
    with pytest.raises(ModelError) as caught:
        model.generate(["hello"])
    message = str(caught.value)
    assert server.url in message
    assert "500" in message and "out of memory" in message and "3 attempts" in message
    assert len(server.requests) == 3 and len(waits.delays) == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}, 0.0),  # a date in the past
    ],
)
def test_429_waits_as_long_as_retry_after_says(
    server: FakeOpenAI, headers: dict[str, str], expected: float
) -> None:
    server.script = [(429, headers, {"error": {"message": "slow down"}})]
    model, waits = make(server, backoff=0.01)
    assert model.generate(["x"]) == ["echo: x"]
    assert waits.delays == [expected]


def test_an_unreasonable_retry_after_falls_back_to_backoff(server: FakeOpenAI) -> None:
    server.script = [(429, {"Retry-After": "86400"}, {})]
    model, waits = make(server, backoff=0.01)
    model.generate(["x"])
    assert len(waits.delays) == 1 and waits.delays[0] < 1


def test_a_request_that_takes_too_long_times_out(server: FakeOpenAI) -> None:
    server.during = lambda state: state.release.wait(10) and None
    model, waits = make(server, timeout=0.2, max_retries=1)
    with pytest.raises(ModelError, match=r"did not answer within 0\.2 s \(2 attempts\)"):
        model.generate(["slow"])
    assert len(waits.delays) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_is_one_sentence_after_a_few_quick_retries() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    model = OpenAICompatible(url, "m", max_retries=10, backoff=5, concurrency=4)
    waits = Waits()
    model._wait = waits
    with pytest.raises(ModelError) as caught:
        model.generate(["a", "b", "c", "d", "e"])
    assert str(caught.value) == (
        f"Cannot reach the model endpoint {url}/chat/completions (connection refused); check "
        "that the server is running and that the host, port and path are right."
    )
    assert isinstance(caught.value, TrialbookError)
    # However many retries were allowed: two short waits per request at most.
    assert waits.delays and max(waits.delays) <= 1.0
    assert len(waits.delays) <= 2 * 5


def test_an_unknown_host_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # No DNS query leaves the machine: the resolver itself fails.
    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    model = OpenAICompatible("http://llm.example.internal:8000/v1", "m")
    waits = Waits()
    model._wait = waits
    with pytest.raises(ModelError, match=r"\(host 'llm\.example\.internal' not found\)"):
        model.generate(["a"])
    assert waits.delays == []


@pytest.mark.parametrize("key", [None, "sk-wrong"])
def test_401_says_the_api_key_is_missing_or_wrong(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.script = [(401, {}, {"error": {"message": "Incorrect API key provided"}})] * 2
    model, waits = make(server, api_key=key)
    with pytest.raises(ModelError) as caught:
        model.generate(["a"])
    message = str(caught.value)
    assert "401" in message and "Incorrect API key provided" in message
    assert "OPENAI_API_KEY" in message
    assert ("no API key was sent" in message) is (key is None)
    assert waits.delays == []  # not retried
    assert "sk-wrong" not in message


def test_other_client_errors_carry_the_servers_message(server: FakeOpenAI) -> None:
    server.script = [(400, {}, {"error": {"message": "max_tokens must be at most 4096"}})]
    model, _ = make(server)
    with pytest.raises(ModelError, match="max_tokens must be at most 4096"):
        model.generate(["a"])
    server.script = [(404, {}, {"detail": "Not Found"})]
    with pytest.raises(ModelError, match=r"404 Not Found \(Not Found\); check that the base URL"):
        model.generate(["a"])


def test_a_response_that_is_not_openai_shaped_is_named(server: FakeOpenAI) -> None:
    server.script = [(200, {}, {"result": "hi"})]
    model, _ = make(server)
    with pytest.raises(ModelError, match=r"without choices\[0\]\.message\.content.*chat=false"):
        model.generate(["a"])


def test_a_failure_stops_the_rest_of_the_batch(server: FakeOpenAI) -> None:
    server.script = [(401, {}, {"error": {"message": "no"}})]
    model, _ = make(server, concurrency=1)
    with pytest.raises(ModelError, match="401"):
        model.generate([str(i) for i in range(50)])
    assert len(server.requests) < 50


def test_empty_batches_and_reuse_after_close(server: FakeOpenAI) -> None:
    model, _ = make(server)
    assert model.generate([]) == []
    assert server.requests == []
    assert model.generate(["a"]) == ["echo: a"]
    model.close()
    assert model.generate(["b"]) == ["echo: b"]
    model.close()


@pytest.mark.parametrize(
    ("args", "options", "match"),
    [
        (("localhost:8000/v1", "m"), {}, "is not an http"),
        (("http://localhost:8000/v1", ""), {}, "No model name"),
        (("http://localhost:8000/v1", "m"), {"concurrency": 0}, "concurrency=0 is invalid"),
        (("http://localhost:8000/v1", "m"), {"timeout": 0}, "timeout=0 is invalid"),
        (("http://localhost:8000/v1", "m"), {"max_retries": -1}, "max_retries=-1"),
    ],
)
def test_bad_parameters_are_refused_at_construction(
    args: tuple[str, str], options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        OpenAICompatible(*args, **options)


INTERRUPTED_CLIENT = """
import signal, sys
from trialbook.evaluation.models import OpenAICompatible

# Background jobs may inherit SIGINT ignored; a user at a terminal has the default.
signal.signal(signal.SIGINT, signal.default_int_handler)
model = OpenAICompatible(sys.argv[1], "m", concurrency=2, timeout=120)
try:
    model.generate(["a", "b", "c"])
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_ends_the_process_without_waiting_for_requests_on_the_wire(
    server: FakeOpenAI,
) -> None:
    server.during = lambda state: state.release.wait(60) and None  # never answers in time
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_CLIENT, server.url], stdout=subprocess.PIPE, text=True
    )
    try:
        with server.cond:
            assert server.cond.wait_for(lambda: server.in_flight == 2, timeout=30)
        process.send_signal(signal.SIGINT)
        # Before: worker threads were joined at exit, holding the process for the timeout.
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert out.strip() == "interrupted"
    assert process.returncode == 0
