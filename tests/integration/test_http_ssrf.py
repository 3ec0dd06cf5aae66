"""The outbound HTTP door refuses internal addresses, whatever their spelling or route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peregrine.lib.http import FetchError, HttpClient, address_problem, allow_entries, literal_ip
from tests.replay import ReplayServer, html_reply, serve


@pytest.fixture
def canary() -> Iterator[ReplayServer]:
    """A loopback server no test may reach: any request it records is an SSRF hole."""
    with serve({"/": html_reply("secret"), "/latest/meta-data/": html_reply("creds")}) as server:
        yield server
    assert server.seen == [], f"the canary was reached: {server.seen}"


def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"no DNS lookup expected for {host}:{port}")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f000001:{port}/",
        "http://0x7f.0.0.1:{port}/",
        "http://0177.0.0.1:{port}/",
        "http://127.1:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::ffff:7f00:1]:{port}/",
        "http://0.0.0.0:{port}/",
    ],
)
def test_it_refuses_loopback_in_every_spelling(canary: ReplayServer, url: str) -> None:
    client = HttpClient(resolver=lambda host, port: ["127.0.0.1"], max_retries=0)
    with pytest.raises(FetchError) as caught:
        client.get(url.format(port=canary.port))
    assert caught.value.kind == "blocked_address"
    assert "refused" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://240.0.0.1/",
        "http://2852039166/",
    ],
)
def test_it_refuses_private_link_local_and_metadata_addresses(url: str) -> None:
    client = HttpClient(resolver=_no_dns)
    with pytest.raises(FetchError) as caught:
        client.get(url)
    assert caught.value.kind == "blocked_address"


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "javascript:alert(1)", "/x"]
)
def test_it_refuses_schemes_other_than_http(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        HttpClient(resolver=_no_dns).get(url)
    assert caught.value.kind == "bad_url"
    assert "only http and https" in str(caught.value)


def test_it_refuses_a_name_when_any_resolved_address_is_internal(canary: ReplayServer) -> None:
    client = HttpClient(resolver=lambda host, port: ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(FetchError) as caught:
        client.get(f"http://jobs.example.com:{canary.port}/")
    assert caught.value.kind == "blocked_address"
    assert "loopback" in str(caught.value)


def test_it_pins_the_connection_to_the_checked_public_address() -> None:
    client = HttpClient(resolver=lambda host, port: ["93.184.215.14"])
    target = client.check("https://careers.example.com/jobs/1")
    assert (target.host, target.port, target.ip) == ("careers.example.com", 443, "93.184.215.14")


def test_a_public_looking_name_that_redirects_to_loopback_is_stopped(canary: ReplayServer) -> None:
    """jobs.example.com is allowed (it is our replay server); its redirect to the canary is not."""
    targets = [
        f"http://127.0.0.1:{canary.port}/",
        f"http://2130706433:{canary.port}/",
        f"http://[::ffff:127.0.0.1]:{canary.port}/",
        f"http://metadata.example.com:{canary.port}/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
    ]
    routes = {f"/r{i}": (302, {"Location": t}, b"") for i, t in enumerate(targets)}
    dns = {"jobs.example.com": ["127.0.0.1"], "metadata.example.com": ["169.254.169.254"]}
    with serve(routes) as replay:
        client = HttpClient(
            resolver=lambda host, port: dns[host],
            allow=allow_entries([("jobs.example.com", replay.port)]),
            max_retries=0,
        )
        for i in range(len(targets)):
            with pytest.raises(FetchError) as caught:
                client.get(f"http://jobs.example.com:{replay.port}/r{i}")
            assert caught.value.kind == "blocked_address", targets[i]
        # The first hop went to the checked address with the original Host header.
        assert len(replay.seen) == len(targets)
        assert replay.seen[0].headers["host"] == f"jobs.example.com:{replay.port}"
        client.close()


def test_redirects_within_allowed_hosts_are_followed_and_bounded() -> None:
    with serve() as replay:
        replay.routes["/a"] = (301, {"Location": "/b"}, b"")
        replay.routes["/b"] = html_reply("<h1>arrived</h1>")
        replay.routes["/loop"] = (302, {"Location": "/loop"}, b"")
        with HttpClient(allow=allow_entries([replay.host_port]), max_redirects=3) as client:
            page = client.get(f"{replay.base}/a")
            assert page.url.endswith("/b")
            assert "arrived" in page.text()
            with pytest.raises(FetchError) as caught:
                client.get(f"{replay.base}/loop")
            assert caught.value.kind == "too_many_redirects"


def test_it_stops_reading_a_response_over_the_size_cap() -> None:
    big = b"x" * (256 * 1024)
    with serve() as replay:
        replay.routes["/big"] = (200, {"Content-Type": "text/plain"}, big)
        # Chunked (no Content-Length) so the streamed count, not the header, must stop it.
        replay.routes["/sneaky"] = (
            200,
            {"Content-Type": "text/plain", "Content-Length": "10"},
            b"0123456789",
        )
        with HttpClient(allow=allow_entries([replay.host_port]), max_bytes=64 * 1024) as client:
            with pytest.raises(FetchError) as caught:
                client.get(f"{replay.base}/big")
            assert caught.value.kind == "too_large"
            assert "larger than 64 KB" in str(caught.value)
            assert client.get(f"{replay.base}/sneaky").content == b"0123456789"


def test_it_retries_429_and_5xx_with_bounded_backoff_honouring_retry_after() -> None:
    waits: list[float] = []
    calls = {"n": 0}

    def flaky(_seen: object) -> tuple[int, dict[str, str], bytes]:
        calls["n"] += 1
        if calls["n"] == 1:
            return (429, {"Retry-After": "2"}, b"slow down")
        if calls["n"] == 2:
            return (503, {"Retry-After": "3600"}, b"")
        return (200, {"Content-Type": "application/json"}, b'{"ok": true}')

    with serve({"/flaky": flaky, "/down": (502, {}, b"")}) as replay:
        client = HttpClient(
            allow=allow_entries([replay.host_port]),
            sleep=waits.append,
            max_retries=3,
            max_retry_after=30,
        )
        assert client.get(f"{replay.base}/flaky").json() == {"ok": True}
        assert waits == [2.0, 30.0]  # Retry-After honoured, capped at 30 s
        waits.clear()
        with pytest.raises(FetchError) as caught:
            client.get(f"{replay.base}/down")
        assert caught.value.status == 502
        assert "answered HTTP 502" in str(caught.value)
        assert len(waits) == 3  # bounded: three retries, then give up
        assert all(0 <= w <= 0.5 * 2**i for i, w in enumerate(waits))  # jittered exponential
        client.close()


def test_html_where_json_was_expected_gives_a_clear_error() -> None:
    with (
        serve({"/api": html_reply("<h1>Service unavailable</h1>")}) as replay,
        HttpClient(allow=allow_entries([replay.host_port])) as client,
        pytest.raises(FetchError) as caught,
    ):
        client.get(f"{replay.base}/api").json()
    assert "expected JSON" in str(caught.value)
    assert "text/html" in str(caught.value)


def test_numeric_host_spellings_are_read_as_addresses() -> None:
    assert str(literal_ip("2130706433")) == "127.0.0.1"
    assert str(literal_ip("0x7f.1")) == "127.0.0.1"
    assert str(literal_ip("017700000001")) == "127.0.0.1"
    assert literal_ip("jobs.example.com") is None
    assert literal_ip("1e100.net") is None


def test_public_addresses_pass_the_check() -> None:
    import ipaddress

    assert address_problem(ipaddress.ip_address("93.184.215.14")) is None
    assert address_problem(ipaddress.ip_address("2606:4700::1111")) is None
    assert address_problem(ipaddress.ip_address("::ffff:10.0.0.1")) == "a private network address"
