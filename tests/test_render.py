"""Render API client against a stub graphite-web (stdlib http.server on a free port)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from el_monitor.graphite.names import sum_series
from el_monitor.graphite.render import (
    GraphiteBadResponse,
    GraphiteHTTPError,
    GraphiteTimeout,
    GraphiteUnreachable,
    RenderClient,
    RenderError,
    Series,
)

# One answer: (status, content type, body, held back until the test ends).
Answer = tuple[int, str, bytes, bool]
JSON = "application/json"
HOLD_SECONDS = 60  # how long a held answer waits at most: only a hung client waits it out


class StubGraphite:
    """Serves one canned answer per test and records every request's path and query."""

    def __init__(self) -> None:
        self.answer: Answer | Callable[[BaseHTTPRequestHandler], None] = (
            200,
            JSON,
            b"[]",
            False,
        )
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self.release = threading.Event()  # set when the test ends: held answers go out
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                stub.requests.append((url.path, parse_qsl(url.query)))
                if callable(stub.answer):
                    stub.answer(self)
                    return
                status, ctype, body, held = stub.answer
                if held:
                    stub.release.wait(HOLD_SECONDS)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def json(self, data: object, status: int = 200) -> None:
        self.answer = (status, JSON, json.dumps(data).encode(), False)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubGraphite]:
    server = StubGraphite()
    yield server
    server.close()


@pytest.fixture
def client(stub: StubGraphite) -> Iterator[RenderClient]:
    with RenderClient(stub.url, timeout=0.3) as render_client:
        yield render_client


def test_series_with_nulls_and_the_query_sent(stub: StubGraphite, client: RenderClient) -> None:
    stub.json(
        [
            {
                "target": "sumSeries(eventlogging.*.overall.raw.rate)",
                "tags": {"name": "sumSeries(eventlogging.*.overall.raw.rate)"},
                "datapoints": [[None, 100], [2.5, 110], [3, 120], [None, 130]],
            }
        ]
    )
    target = sum_series("eventlogging", "overall", "raw")
    series = client.render([target], from_="-5min", until="-1min")
    assert series == [
        Series(target, ((None, 100), (2.5, 110), (3.0, 120), (None, 130))),
    ]
    assert series[0].values() == [2.5, 3.0]
    path, query = stub.requests[-1]
    assert path == "/render"
    assert query == [("target", target), ("from", "-5min"), ("until", "-1min"), ("format", "json")]


def test_several_targets_repeat_the_parameter(stub: StubGraphite, client: RenderClient) -> None:
    stub.json(
        [
            {"target": "a.rate", "datapoints": [[1, 10]]},
            {"target": "b.rate", "datapoints": []},
        ]
    )
    series = client.render(["a.rate", "b.rate"])
    assert [s.target for s in series] == ["a.rate", "b.rate"]
    assert series[1].points == () and series[1].values() == []
    query = stub.requests[-1][1]
    assert [v for k, v in query if k == "target"] == ["a.rate", "b.rate"]
    assert ("from", "-10min") in query and ("until", "now") in query


def test_unknown_metric_is_an_empty_list(stub: StubGraphite, client: RenderClient) -> None:
    stub.json([])
    assert client.render(["no.such.metric"]) == []


def test_a_bare_string_is_one_target(stub: StubGraphite, client: RenderClient) -> None:
    stub.json([])
    client.render("a.b.c")  # type: ignore[arg-type]
    assert [v for k, v in stub.requests[-1][1] if k == "target"] == ["a.b.c"]


def test_http_500_with_html_names_status_and_title(
    stub: StubGraphite, client: RenderClient
) -> None:
    page = b"""<!DOCTYPE html>
<html><head><style>body { color: red }</style>
<title>ValueError at /render</title></head>
<body><h1>ValueError at /render</h1><pre>Traceback ...</pre></body></html>"""
    stub.answer = (500, "text/html", page, False)
    with pytest.raises(GraphiteHTTPError) as caught:
        client.render(["x"])
    assert caught.value.status == 500
    message = str(caught.value)
    assert message == f"Graphite {stub.url}/render: HTTP 500: ValueError at /render"
    assert "\n" not in message


def test_http_404_and_400_plain_text_first_line(stub: StubGraphite, client: RenderClient) -> None:
    stub.answer = (404, "text/html", b"<h1>Not Found</h1>\n<p>The requested resource</p>", False)
    with pytest.raises(GraphiteHTTPError, match=r"HTTP 404: Not Found$") as caught:
        client.render(["x"])
    assert caught.value.status == 404
    stub.answer = (400, "text/plain", b"\n  Invalid target 'sumSeries('\nmore detail\n", False)
    with pytest.raises(GraphiteHTTPError, match=r"HTTP 400: Invalid target 'sumSeries\('$"):
        client.render(["sumSeries("])


def test_slow_answer_times_out_fast(stub: StubGraphite, client: RenderClient) -> None:
    stub.answer = (200, JSON, b"[]", True)  # no answer while the client waits: it gives up
    with pytest.raises(GraphiteTimeout, match=r"no answer within 0\.3 s"):
        client.render(["x"])


def test_body_that_stalls_after_the_headers_times_out(
    stub: StubGraphite, client: RenderClient
) -> None:
    def stall(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b"[")
        handler.wfile.flush()
        stub.release.wait(HOLD_SECONDS)  # the rest never comes while the client waits

    stub.answer = stall
    with pytest.raises(GraphiteTimeout):
        client.render(["x"])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>proxy error</html>", "answer is not JSON: 'proxy error'"),
        (b'[{"target": "a", "datapoints": [[1, 2]]', "answer is not JSON"),
        (b'{"target": "a", "datapoints": []}', "answer is a JSON dict, not a list"),
        (b'[{"datapoints": []}]', "series 0 has no string 'target'"),
        (b'[{"target": "a"}]', "series 'a' has no 'datapoints' list"),
        (b'[{"target": "a", "datapoints": [[1]]}]', "point [1] is not [v, ts]"),
        (b'[{"target": "a", "datapoints": [["1", 2]]}]', "is not numbers"),
        (b'[{"target": "a", "datapoints": [[true, 2]]}]', "is not numbers"),
        (b'[{"target": "a", "datapoints": [[1, null]]}]', "is not numbers"),
        (b"[1, 2]", "series 0 has no string 'target'"),
    ],
)
def test_garbage_and_wrong_shapes(
    stub: StubGraphite, client: RenderClient, body: bytes, problem: str
) -> None:
    stub.answer = (200, JSON, body, False)
    with pytest.raises(GraphiteBadResponse) as caught:
        client.render(["a"])
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"Graphite {stub.url}/render: ")


def test_nan_points_read_as_null(stub: StubGraphite, client: RenderClient) -> None:
    stub.answer = (200, JSON, b'[{"target": "a", "datapoints": [[NaN, 10], [1.5, 20]]}]', False)
    assert client.render(["a"])[0].points == ((None, 10), (1.5, 20))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with RenderClient(url, timeout=0.3) as client, pytest.raises(GraphiteUnreachable) as caught:
        client.render(["x"])
    assert str(caught.value) == f"Graphite {url}/render: unreachable (Connection refused)"


def test_unknown_host_is_unreachable() -> None:
    with (
        RenderClient("http://no-such-host.invalid:8080", timeout=0.5) as client,
        pytest.raises(GraphiteUnreachable, match=r"no-such-host\.invalid:8080/render: unreach"),
    ):
        client.render(["x"])


def test_every_failure_is_a_render_error() -> None:
    for cls in (GraphiteUnreachable, GraphiteTimeout, GraphiteHTTPError, GraphiteBadResponse):
        assert issubclass(cls, RenderError)


def test_base_url_is_checked_and_trailing_slash_dropped(stub: StubGraphite) -> None:
    with pytest.raises(ValueError, match="must start with http"):
        RenderClient("graphite:8080")
    stub.json([])
    with RenderClient(stub.url + "/", timeout=0.3) as client:
        client.render(["x"])
    assert stub.requests[-1][0] == "/render"


def test_sum_series() -> None:
    assert (
        sum_series("eventlogging", "schema.NavigationTiming", "invalid", "count")
        == "sumSeries(eventlogging.*.schema.NavigationTiming.invalid.count)"
    )
    assert sum_series("el", "overall", "raw") == "sumSeries(el.*.overall.raw.rate)"


def test_importing_render_stays_light() -> None:
    """Check plugins import it at start: no requests until a client is built, nothing heavy."""
    code = (
        "import sys, el_monitor.graphite.render\n"
        "heavy = {'requests', 'urllib3', 'el_monitor.counts.counters', 'matplotlib', 'jinja2',"
        " 'pymysql', 'graphitesend'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
