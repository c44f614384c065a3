"""The emulator defends itself: bounded decompression, query time limits and isolation, the
admin key, 4xx for malformed framing, next links from the configured origin."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import tracemalloc
import uuid

import requests
from emulator_http import TIMEOUT, admin_headers, api, auth, capture, hogql, make_event

from drawkit.offline.posthog_emulator import EmulatorServer


def _raw(server: EmulatorServer, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection; the whole answer (the server closes it)."""
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and b"}" in data:
                break
    return b"".join(chunks)


def test_a_gzip_bomb_is_refused_without_inflating_it(emulator):
    bomb = gzip.compress(b"0" * (250 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 300 * 1024  # about 254 KB on the wire
    tracemalloc.start()  # the server runs in this process: its allocations are traced too
    try:
        started = time.monotonic()
        headers = {"Content-Type": "application/json"}
        answer = requests.post(f"{emulator.url}/batch/", data=bomb, headers=headers, timeout=30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status_code == 400 and answer.json()["code"] == "event_too_big"
    assert peak < 80 * 1024 * 1024  # the 20 MB cap and a few buffers, not 250 MB
    assert time.monotonic() - started < 10


def test_a_decompressed_body_over_20_mb_is_refused_and_under_it_accepted(emulator):
    events = [make_event(i) for i in range(2000)]
    body = json.dumps({"api_key": emulator.project_api_key, "batch": events}).encode()
    small = requests.post(f"{emulator.url}/batch/", data=gzip.compress(body), timeout=TIMEOUT)
    assert small.status_code == 200
    padded = body[:-1] + b', "pad": "' + b"x" * (21 * 1024 * 1024) + b'"}'
    big = requests.post(f"{emulator.url}/batch/", data=gzip.compress(padded), timeout=TIMEOUT)
    assert big.status_code == 400 and big.json()["code"] == "event_too_big"


def test_one_heavy_query_times_out_and_never_freezes_other_clients():
    with EmulatorServer(max_execution_seconds=3) as server:
        capture(server, [make_event(i, uuid=str(uuid.uuid4())) for i in range(3000)])
        heavy = "SELECT count() FROM events a CROSS JOIN events b CROSS JOIN events c"
        result: dict = {}

        def run() -> None:
            result["answer"] = hogql(server, heavy)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        assert capture(server, [make_event(5000)]).status_code == 200
        assert hogql(server, "SELECT count() FROM events").json()["results"] == [[3001]]
        people = requests.get(api(server, "persons/?limit=1"), headers=auth(server),
                              timeout=TIMEOUT)  # fmt: skip
        assert people.status_code == 200
        assert time.monotonic() - started < 2  # served while the heavy query runs
        thread.join(timeout=30)
        assert result["answer"].status_code == 504


def test_admin_routes_need_the_admin_key(emulator):
    url = f"{emulator.url}/_emulator/stats"
    assert requests.get(url, timeout=TIMEOUT).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT)
    assert wrong.status_code == 403
    personal = requests.get(url, headers=auth(emulator), timeout=TIMEOUT)
    assert personal.status_code == 403  # the personal API key is not the admin key
    reset = requests.post(f"{emulator.url}/_emulator/reset", timeout=TIMEOUT)
    assert reset.status_code == 401
    assert requests.get(url, headers=admin_headers(emulator), timeout=TIMEOUT).status_code == 200


def test_deeply_nested_json_is_a_400(emulator):
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/batch/", f"/api/projects/{emulator.project_id}/query/"):
        answer = requests.post(emulator.url + path, data=deep, headers=auth(emulator),
                               timeout=TIMEOUT)  # fmt: skip
        assert answer.status_code == 400, (path, answer.text)
    nested: dict = {"x": 1}
    for _ in range(200):
        nested = {"x": nested}
    body = {"api_key": emulator.project_api_key, "batch": [make_event(1, properties=nested)]}
    assert requests.post(f"{emulator.url}/batch/", json=body, timeout=TIMEOUT).status_code == 400


def test_malformed_framing_is_a_400(emulator):
    bad_length = (b"POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}")
    assert _raw(emulator, bad_length).startswith(b"HTTP/1.1 400")
    bad_chunk = (b"POST /batch/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"zz\r\n{}\r\n0\r\n\r\n")  # fmt: skip
    assert _raw(emulator, bad_chunk).startswith(b"HTTP/1.1 400")
    negative = b"POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    assert _raw(emulator, negative).startswith(b"HTTP/1.1 400")
    assert capture(emulator, [make_event(1)]).status_code == 200  # still serving


def test_next_links_use_the_configured_origin_never_the_host_header():
    with EmulatorServer(public_url="http://posthog.example.test") as server:
        capture(server, [make_event(i) for i in range(3)])
        page = requests.get(api(server, "persons/?limit=1"),
                            headers={**auth(server), "Host": "evil.example"}, timeout=TIMEOUT)
        assert page.json()["next"].startswith("http://posthog.example.test/api/projects/")
    with EmulatorServer() as server:
        capture(server, [make_event(i) for i in range(3)])
        page = requests.get(api(server, "persons/?limit=1"),
                            headers={**auth(server), "Host": "evil.example"}, timeout=TIMEOUT)
        assert page.json()["next"].startswith(server.url)
