"""A model served over HTTP by anything that speaks the OpenAI API (vLLM, llama.cpp, TGI,
Ollama, OpenAI itself): one request per prompt, a bounded number in flight, retries with
backoff, and every failure turned into one sentence at this boundary."""

from __future__ import annotations

import email.utils
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from trialbook.errors import ConfigError, ModelError
from trialbook.evaluation._model import Model

__all__ = ["OpenAICompatible"]

#: A refused connection is retried this many times at most, quickly: a server that is down
#: will not come up in the next minutes, and the user should hear so at once.
_CONNECT_RETRIES = 2
_CONNECT_BACKOFF_CAP = 1.0
#: Longest Retry-After honoured; a longer one falls back to our own backoff.
_MAX_RETRY_AFTER = 60.0
#: Establishing a TCP connection never needs the full generation timeout.
_CONNECT_TIMEOUT = 10.0


class _Cancelled(Exception):
    """Another request of the same batch failed for good; this one stops early."""


class _Batch:
    """One ``generate`` call's shared state: the work queue, the results, the first error."""

    def __init__(self, prompts: Sequence[str]) -> None:
        self.queue: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()
        for item in enumerate(prompts):
            self.queue.put(item)
        self.results: list[str | None] = [None] * len(prompts)
        self.remaining = len(prompts)
        self.error: BaseException | None = None
        self.cond = threading.Condition()
        self.cancel = threading.Event()


class OpenAICompatible(Model):
    """An OpenAI-compatible completion endpoint.

    ``generate`` sends one request per prompt to ``{base_url}/chat/completions`` (the prompt
    as a single user message) or, with ``chat=False``, to ``{base_url}/completions``, with at
    most ``concurrency`` requests in flight, and returns the texts in prompt order. It is
    synchronous; the parallelism is a thread pool inside it.

    Connection errors, timeouts, 429 and 5xx answers are retried up to ``max_retries`` times,
    waiting ``backoff * 2**attempt`` seconds (plus up to 25% jitter) or what the server's
    ``Retry-After`` header asks (up to 60 s). A refused connection or an unknown host is
    retried at most twice, within about a second, then reported. Nothing is sent until the
    first ``generate`` call.

    Args:
        base_url: the API root, usually ending in ``/v1`` (``http://localhost:8000/v1``).
        model: the model name the server expects in the ``model`` field.
        api_key: sent as ``Authorization: Bearer ...``; defaults to the environment variable
            named by ``api_key_env``; no header when neither is set (local servers).
        api_key_env: the environment variable read when ``api_key`` is None.
        concurrency: requests in flight at once.
        max_retries: retries per prompt after the first attempt.
        backoff: the first retry's wait in seconds; doubled for each further retry.
        timeout: seconds one request may take (connecting takes at most 10 of them).
        chat: use the chat API (True) or the plain completions API (False).
        max_tokens, temperature, stop: sent with every request (greedy by default).
        batch_size: prompts per ``generate`` call that benchmarks should send; defaults to
            four times ``concurrency`` so that the pool stays busy.

    Raises:
        ConfigError: a parameter is out of range (at construction).
        ModelError: from ``generate``: the endpoint is unreachable, refuses the key, keeps
            failing or timing out, or answers something that is not an OpenAI response.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 60.0,
        chat: bool = True,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: str | Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"Model endpoint {base_url!r} is not an http(s) URL; write it like "
                "http://localhost:8000/v1."
            )
        if not model:
            raise ConfigError(
                f"No model name for the endpoint {base_url}; pass the name the server serves "
                "(model=NAME)."
            )
        _check_at_least("concurrency", concurrency, 1)
        _check_at_least("max_retries", max_retries, 0)
        _check_at_least("backoff", backoff, 0)
        _check_at_least("max_tokens", max_tokens, 1)
        _check_at_least("temperature", temperature, 0)
        if not timeout > 0:
            raise ConfigError(f"timeout={timeout!r} is invalid; give the seconds, above 0.")
        if batch_size is not None:
            _check_at_least("batch_size", batch_size, 1)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model
        self.api_key_env = api_key_env
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env) or None
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.timeout = float(timeout)
        self.chat = chat
        self.max_tokens = max_tokens
        self.temperature = float(temperature)
        self.stop = [stop] if isinstance(stop, str) else list(stop or [])
        self.batch_size = batch_size or 4 * concurrency
        self.url = self.base_url + ("/chat/completions" if chat else "/completions")
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        # Waits between retries; returns True when the batch was cancelled meanwhile. Tests
        # replace it to see the delays without spending them.
        self._wait: Callable[[threading.Event, float], bool] = _event_wait

    def __repr__(self) -> str:
        return f"OpenAICompatible({self.base_url!r}, {self.model!r})"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """One completion per prompt, in order; see the class docstring for retries."""
        if not prompts:
            return []
        client = self._open()
        batch = _Batch(prompts)
        # Daemon threads rather than a ThreadPoolExecutor: the executor's workers are joined
        # at interpreter exit, so a Ctrl-C would still wait for every request on the wire
        # (up to the timeout) before the process could end.
        for _ in range(min(self.concurrency, len(prompts))):
            threading.Thread(
                target=self._work, args=(client, batch), name="trialbook-openai", daemon=True
            ).start()
        try:
            with batch.cond:
                batch.cond.wait_for(lambda: batch.remaining == 0 or batch.error is not None)
        finally:
            # On a failure or an interrupt: queued prompts are dropped and retry waits end at
            # once; a request already on the wire ends within its timeout, holding up nothing.
            batch.cancel.set()
        if batch.error is not None:
            raise batch.error
        return [text for text in batch.results if text is not None]

    def _work(self, client: httpx.Client, batch: _Batch) -> None:
        """A worker thread: takes prompts until none are left or the batch is cancelled."""
        while not batch.cancel.is_set():
            try:
                index, prompt = batch.queue.get_nowait()
            except queue.Empty:
                return
            try:
                text = self._complete(client, prompt, batch.cancel)
            except _Cancelled:
                return
            except BaseException as e:  # handed to the caller's thread, raised there
                with batch.cond:
                    if batch.error is None:
                        batch.error = e
                    batch.cond.notify_all()
                return
            with batch.cond:
                batch.results[index] = text
                batch.remaining -= 1
                batch.cond.notify_all()

    def close(self) -> None:
        """Close the connection pool; a later ``generate`` opens a new one."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- one request ------------------------------------------------------------------------

    def _open(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                self._client = httpx.Client(
                    headers=headers,
                    timeout=httpx.Timeout(
                        self.timeout, connect=min(self.timeout, _CONNECT_TIMEOUT)
                    ),
                    limits=httpx.Limits(
                        max_connections=self.concurrency,
                        max_keepalive_connections=self.concurrency,
                    ),
                    # Proxies from the environment would break localhost servers more often
                    # than they help; an endpoint behind a proxy is named by its own URL.
                    trust_env=False,
                )
            return self._client

    def _payload(self, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if self.chat:
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if self.stop:
            body["stop"] = self.stop
        return body

    def _complete(self, client: httpx.Client, prompt: str, cancel: threading.Event) -> str:
        payload = self._payload(prompt)
        attempts = 0  # failed attempts that count against max_retries
        refused = 0  # connection failures, bounded separately and tightly
        while True:
            if cancel.is_set():
                raise _Cancelled
            try:
                response = client.post(self.url, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                refused += 1
                reason = _connect_reason(e, self.url)
                if "not found" in reason or refused > min(self.max_retries, _CONNECT_RETRIES):
                    raise ModelError(
                        f"Cannot reach the model endpoint {self.url} ({reason}); check that "
                        "the server is running and that the host, port and path are right."
                    ) from e
                delay = min(self.backoff * 2.0 ** (refused - 1), _CONNECT_BACKOFF_CAP)
            except httpx.TimeoutException as e:
                attempts += 1
                if attempts > self.max_retries:
                    raise ModelError(
                        f"The model endpoint {self.url} did not answer within "
                        f"{self.timeout:g} s ({_tries(attempts)}); raise the timeout "
                        "(timeout=SECONDS) or lower the concurrency if the server is overloaded."
                    ) from e
                delay = self._backoff(attempts)
            except httpx.TransportError as e:
                attempts += 1
                if attempts > self.max_retries:
                    raise ModelError(
                        f"The connection to the model endpoint {self.url} failed "
                        f"({type(e).__name__}: {e or 'no detail'}, {_tries(attempts)}); check "
                        "the server's logs."
                    ) from e
                delay = self._backoff(attempts)
            else:
                status = response.status_code
                if status < 300:
                    return self._text(response)
                if status == 429 or status >= 500:
                    attempts += 1
                    if attempts > self.max_retries:
                        raise ModelError(
                            f"The model endpoint {self.url} kept failing: {_status(response)} "
                            f"({_tries(attempts)}); check the server's logs, lower the "
                            "concurrency or retry later."
                        )
                    asked = _retry_after(response)
                    delay = self._backoff(attempts) if asked is None else asked
                else:
                    raise ModelError(self._refusal(response))
            if self._wait(cancel, delay):
                raise _Cancelled

    def _backoff(self, attempts: int) -> float:
        return self.backoff * 2.0 ** (attempts - 1) * (1 + 0.25 * random.random())

    def _refusal(self, response: httpx.Response) -> str:
        """The sentence for a 4xx answer that retrying cannot fix."""
        status = response.status_code
        if status in (401, 403):
            key = (
                f"the key in {self.api_key_env} (or api_key) was refused; check it"
                if self._api_key
                else f"no API key was sent; set {self.api_key_env} to a valid key"
            )
            return f"The model endpoint {self.url} answered {_status(response)}: {key}."
        if status == 404:
            return (
                f"The model endpoint {self.url} answered {_status(response)}; check that the "
                f"base URL ends where the API starts (often /v1) and that the server serves "
                f"the model {self.model!r}."
            )
        return (
            f"The model endpoint {self.url} refused the request: {_status(response)}; fix the "
            "request options (model, max_tokens, stop) to suit the server."
        )

    def _text(self, response: httpx.Response) -> str:
        try:
            choice = response.json()["choices"][0]
            text = choice["message"]["content"] if self.chat else choice["text"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            field = "choices[0].message.content" if self.chat else "choices[0].text"
            other = "chat=false" if self.chat else "chat=true"
            raise ModelError(
                f"The model endpoint {self.url} answered without {field} (got "
                f"{response.text[:200]!r}); check that it is OpenAI-compatible, or try {other}."
            ) from e
        # A refusal or a tool call leaves content null: no text, not an error.
        return "" if text is None else str(text)


def _event_wait(cancel: threading.Event, delay: float) -> bool:
    return cancel.wait(delay)


def _check_at_least(name: str, value: float, low: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise ConfigError(f"{name}={value!r} is invalid; use a number of at least {low:g}.")


def _tries(attempts: int) -> str:
    return "1 attempt" if attempts == 1 else f"{attempts} attempts"


def _server_message(response: httpx.Response) -> str:
    """What the server says went wrong, from OpenAI's ``{"error": {"message": ...}}`` or the
    shapes other servers use (``detail``, ``message``, plain text)."""
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300]
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, dict) and value.get("message"):
                return str(value["message"])
            if isinstance(value, str | list) and value:
                return str(value)
    return " ".join(response.text.split())[:300]


def _status(response: httpx.Response) -> str:
    text = f"{response.status_code} {response.reason_phrase}".strip()
    message = _server_message(response)
    return f"{text} ({message})" if message else text


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, ``Retry-After`` in seconds or
    as an HTTP date), None when absent, unreadable or unreasonably long."""
    value: float | None = None
    millis = response.headers.get("retry-after-ms")
    header = response.headers.get("retry-after")
    try:
        if millis is not None:
            value = float(millis) / 1000
        elif header is not None:
            value = float(header)
    except ValueError:
        value = None
    if value is None and header is not None:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            value = when.timestamp() - time.time()
    if value is None:
        return None
    value = max(value, 0.0)
    return value if value <= _MAX_RETRY_AFTER else None


def _connect_reason(error: BaseException, url: str) -> str:
    """``connection refused``, ``host 'x' not found`` or the library's own words."""
    if isinstance(error, httpx.ConnectTimeout):
        return f"no answer to connecting within {_CONNECT_TIMEOUT:g} s"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"host {urlsplit(url).hostname!r} not found"
        cause = cause.__cause__ or cause.__context__
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return f"host {urlsplit(url).hostname!r} not found"
    return text or type(error).__name__
