"""Security: HTTPS except loopback, secrets never in messages, numbers masked in output."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_support import child_env

from drawkit.config import Settings, is_loopback_host
from drawkit.errors import DrawkitError, SettingsError
from drawkit.posthog import PostHogClient

pytestmark = pytest.mark.reliability

API_KEY = "phx_" + "S3cr3tPersonalKey" * 2
PROJECT_KEY = "phc_" + "S3cr3tProjectKey" * 2

hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9\-]{0,15}(\.[a-z][a-z0-9\-]{0,10}){0,3}", fullmatch=True),
    st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
    st.sampled_from(
        [
            "localhost",
            "LOCALHOST",
            "localhost.evil.com",
            "127.0.0.1.evil.com",
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "0.0.0.0",
            "[::]",
            "10.0.0.1",
            "posthog.internal",
            "[::ffff:127.0.0.1]",
            "evil.com@127.0.0.1",
            "127.0.0.1@evil.com",
        ]
    ),
)
CASES = {"urls": 0, "refused": 0, "loopback": 0}


@settings(max_examples=800)
@given(
    scheme=st.sampled_from(["http", "HTTP", "https", "ftp", ""]),
    host=hosts,
    port=st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    path=st.sampled_from(["", "/", "/api", "/x/"]),
)
def test_plain_http_is_refused_except_to_loopback(scheme, host, port, path) -> None:  # noqa: ANN001
    url = f"{scheme}://{host}{port}{path}" if scheme else f"{host}{port}{path}"
    env = {"POSTHOG_API_KEY": API_KEY, "POSTHOG_PROJECT_ID": "1", "POSTHOG_BASE_URL": url}
    CASES["urls"] += 1
    real_host = host.rsplit("@", 1)[-1].strip("[]")
    plain = scheme.lower() == "http"
    try:
        Settings.from_env(env)
    except SettingsError as exc:
        CASES["refused"] += 1
        assert "POSTHOG_BASE_URL" in str(exc)
        assert API_KEY not in str(exc)
        refused_settings = True
    else:
        refused_settings = False
    try:
        PostHogClient(url, API_KEY, 1, PROJECT_KEY).close()
    except DrawkitError as exc:
        assert API_KEY not in str(exc) and PROJECT_KEY not in str(exc)
        refused_client = True
    else:
        refused_client = False
    if plain and not is_loopback_host(real_host):
        assert refused_settings and refused_client, url
    if scheme.lower() not in ("http", "https"):
        assert refused_settings and refused_client, url
    if plain and not refused_settings:
        CASES["loopback"] += 1


def test_secrets_never_in_settings_errors_or_repr(reliability) -> None:  # noqa: ANN001
    base = {"POSTHOG_API_KEY": API_KEY, "POSTHOG_PROJECT_ID": "1"}
    bad_envs = [
        {**base, "POSTHOG_API_KEY": PROJECT_KEY},  # keys swapped
        {**base, "POSTHOG_PROJECT_API_KEY": API_KEY},
        {**base, "POSTHOG_PROJECT_ID": "abc"},
        {**base, "POSTHOG_BASE_URL": "http://posthog.example.com"},
        {**base, "POSTHOG_BASE_URL": f"https://{API_KEY}@"},
        {"POSTHOG_API_KEY": API_KEY},
        {"POSTHOG_PROJECT_API_KEY": PROJECT_KEY, "POSTHOG_PROJECT_ID": "1"},
    ]
    for env in bad_envs:
        with pytest.raises(SettingsError) as info:
            Settings.from_env(env)
        message = str(info.value)
        assert API_KEY not in message and PROJECT_KEY not in message, message
        assert "POSTHOG_" in message
    good = Settings.from_env({**base, "POSTHOG_PROJECT_API_KEY": PROJECT_KEY})
    client = PostHogClient.from_settings(good)
    for text in (repr(good), str(good), repr(client)):
        assert API_KEY not in text and PROJECT_KEY not in text
    client.close()
    reliability.add(
        "security: secrets",
        "misconfigured POSTHOG_* environments (swapped keys, bad id, http URL, key in URL, "
        "missing variables); repr of Settings and PostHogClient",
        len(bad_envs) + 3,
        "SettingsError naming the variable; no key value in any message or repr",
    )


def test_https_figures(reliability) -> None:  # noqa: ANN001
    assert CASES["urls"] and CASES["refused"] and CASES["loopback"]
    reliability.add(
        "security: transport",
        "base URLs: random hosts, IPv4/IPv6, localhost look-alikes, user@host tricks, "
        "http/HTTP/https/ftp/no scheme, ports and paths; Settings.from_env and PostHogClient",
        CASES["urls"],
        f"plain http refused unless the host is loopback ({CASES['loopback']} loopback "
        f"accepted, {CASES['refused']} refused); non-http schemes refused; key never in "
        "the message",
    )


# ------------------------------------------------------------------ masking in the CLI


def _numbers(n: int) -> list[str]:
    return [f"+234803{1000000 + 7349 * i:07d}" for i in range(n)]


def _spellings(e164: str) -> list[str]:
    national = e164[4:]
    return [e164, "0" + national, national, "234" + national]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "drawkit", "-v", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env(DRAWKIT_DRAW_SECRET="5e" * 32),
        timeout=120,
    )


def test_cli_draw_verify_and_events_never_print_a_full_number(
    tmp_path, reliability, drand_env  # noqa: ANN001
) -> None:
    numbers = _numbers(25)
    frame = pd.DataFrame(
        {"msisdn": numbers, "entries": np.random.default_rng(1).integers(1, 30, len(numbers))}
    )
    frame.to_csv(tmp_path / "participants.csv", index=False)
    (tmp_path / "promo.toml").write_text("[beacon]\ncommit_margin_seconds = 1\n")
    common = ["--date", "2026-11-24", "--participants", "participants.csv", "--ledger", "L",
              "--config", "promo.toml", "--workspace", "W"]
    runs = [
        run_cli("commit", *common, cwd=tmp_path),
        run_cli(
            "draw",
            *common,
            "--wait",
            "--record-out",
            "record.json",
            "--public-out",
            "public.json",
            "--winners-export",
            "winners.csv",
            cwd=tmp_path,
        ),
    ]
    assert runs[-1].returncode == 0, runs[-1].stderr
    draw_id = re.search(r"Draw (\S+)", runs[-1].stdout)[1]
    changed = frame.copy()
    changed["entries"] += 1  # every winner's entries differ: the mismatch names them
    changed.to_csv(tmp_path / "changed.csv", index=False)
    runs.append(run_cli("verify", "record.json", "--participants", "changed.csv", cwd=tmp_path))
    assert runs[-1].returncode == 1 and "MISMATCH" in runs[-1].stdout
    runs.append(
        run_cli(
            "draw-event", draw_id, "disqualified", "--position", "1", "--ledger", "L", cwd=tmp_path
        )
    )
    assert runs[-1].returncode == 0, runs[-1].stderr
    runs.append(run_cli("ledger", "list", "--ledger", "L", cwd=tmp_path))
    output = "\n".join(r.stdout + r.stderr for r in runs)
    public = (tmp_path / "public.json").read_text(encoding="utf-8")
    for number in numbers:
        for spelled in _spellings(number):
            assert spelled not in output, f"{spelled} printed by the CLI"
            assert spelled not in public, f"{spelled} in the public record"
    assert "****" in output
    winners = (tmp_path / "winners.csv").stat().st_mode & 0o777
    assert winners == 0o600
    reliability.add(
        "security: masking",
        "drawkit -v commit, draw (record, public record, winners export), verify with a "
        "changed file (MISMATCH naming winners), draw-event, ledger list",
        len(runs),
        "no participant number in any spelling on stdout/stderr or in the public record; "
        "the private winners file is mode 0600",
    )


def test_debug_logs_of_a_persons_lookup_by_number_are_masked(reliability) -> None:  # noqa: ANN001
    from drawkit.offline.posthog_emulator import EmulatorServer
    from drawkit.redact import install_log_redaction

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        install_log_redaction()  # what `drawkit -v` does
        with EmulatorServer() as server:
            client = PostHogClient(server.url, server.api_key, server.project_id)
            client.get_persons(distinct_id="+2348031234567")
            client.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = stream.getvalue()
    assert "8031234567" not in text
    assert "/persons/?" in text  # the request line with its query string was logged
    reliability.add(
        "security: masking",
        "DEBUG logging as `drawkit -v` sets it up, during a persons lookup by number "
        "(urllib3 logs the URL with the number URL-encoded)",
        1,
        "the number is masked in every log line",
    )


# ------------------------------------------------------------------ transport that cannot leak


class _Recorder:
    """A tiny loopback HTTP server that records every request (method, path, headers,
    body) and answers from ``routes`` (path -> (status, headers, JSON body))."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[dict] = []
        self.routes: dict[str, tuple[int, dict, object]] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.seen.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers), "body": body})
                path = self.path.split("?", 1)[0]
                status, headers, payload = recorder.routes.get(path, (404, {}, {"detail": "x"}))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value.replace("{self}", recorder.url))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def two_hosts():
    """``posthog`` (the configured instance) and ``elsewhere`` (another origin)."""
    posthog, elsewhere = _Recorder(), _Recorder()
    yield posthog, elsewhere
    posthog.close()
    elsewhere.close()


def _leak_client(url: str) -> PostHogClient:
    from drawkit.posthog import RetryPolicy

    policy = RetryPolicy(max_attempts=1, max_seconds=2, timeout=(1, 2))
    return PostHogClient(url, API_KEY, 1, PROJECT_KEY, policy=policy)


def _nothing_leaked(elsewhere: _Recorder) -> None:
    assert elsewhere.seen == [], "a request reached the other origin"


def test_a_pagination_link_to_another_origin_is_refused(two_hosts, reliability) -> None:  # noqa: ANN001
    posthog, elsewhere = two_hosts
    for other in (elsewhere.url, elsewhere.url.replace("127.0.0.1", "localhost"),
                  posthog.url.replace("http://", "https://")):
        posthog.routes["/api/projects/1/cohorts/"] = (
            200, {}, {"count": 2, "next": f"{other}/api/projects/1/cohorts/?offset=1",
                      "results": [{"id": 1}]},
        )
        with pytest.raises(DrawkitError, match="refused a pagination link") as info:
            _leak_client(posthog.url).list_cohorts()
        assert API_KEY not in str(info.value)
    _nothing_leaked(elsewhere)
    assert len(posthog.seen) == 3  # only the first page of each, from the pinned origin
    reliability.add(
        "security: transport",
        "a cohorts list page whose next link points at another port, another host name "
        "of the same machine, or another scheme (real HTTP on loopback)",
        3,
        "refused before sending: no request (and no Authorization header) reached the "
        "other origin",
    )


def test_redirects_never_carry_keys_or_bodies_elsewhere(two_hosts, reliability) -> None:  # noqa: ANN001
    import gzip

    posthog, elsewhere = two_hosts
    elsewhere.routes["/batch/"] = (200, {}, {"status": 1})
    elsewhere.routes["/api/projects/1/"] = (200, {}, {"id": 1})
    client = _leak_client(posthog.url)
    posthog.routes["/batch/"] = (307, {"Location": f"{elsewhere.url}/batch/"}, {})
    with pytest.raises(DrawkitError, match="refused a redirect"):
        client.capture_event("recharge", "+2348031234567", {"amount_ngn": 100})
    posthog.routes["/batch/"] = (308, {"Location": "{self}/i/v0/batch/"}, {})
    with pytest.raises(DrawkitError, match="never re-sends a body"):
        client.capture_event("recharge", "+2348031234567", {"amount_ngn": 100})
    posthog.routes["/api/projects/1/"] = (302, {"Location": f"{elsewhere.url}/api/projects/1/"},
                                         {})
    with pytest.raises(DrawkitError, match="refused a redirect"):
        client.get_project()
    _nothing_leaked(elsewhere)
    posted = [r for r in posthog.seen if r["method"] == "POST"]
    assert len(posted) == 2  # each body went once, to the configured origin only
    assert PROJECT_KEY.encode() in gzip.decompress(posted[0]["body"])
    # A redirect inside the pinned origin is followed for a GET, key and all.
    posthog.routes["/api/projects/1/"] = (302, {"Location": "{self}/api/projects/1/moved/"}, {})
    posthog.routes["/api/projects/1/moved/"] = (200, {}, {"id": 1, "name": "moved"})
    assert client.get_project()["name"] == "moved"
    assert posthog.seen[-1]["headers"]["Authorization"] == f"Bearer {API_KEY}"
    client.close()
    reliability.add(
        "security: transport",
        "a 307 from /batch/ to another origin, a 308 from /batch/ within the origin, a 302 "
        "on GET to another origin, a 302 within the origin (real HTTP on loopback)",
        4,
        "no redirect followed off the origin and no body re-sent anywhere; the other "
        "server received nothing; only a same-origin GET redirect is followed",
    )


def test_a_url_that_connects_elsewhere_or_carries_a_password_is_refused(
    two_hosts, reliability  # noqa: ANN001
) -> None:
    from drawkit.posthog.doctor import format_checklist, run_checks

    posthog, _ = two_hosts
    port = posthog.url.rsplit(":", 1)[1]
    tricks = [
        f"http://evil.example\\@127.0.0.1:{port}",
        f"http://evil.example%5C@127.0.0.1:{port}",
        f"http://user:S3cretPassw0rd@127.0.0.1:{port}",
        "https://user:S3cretPassw0rd@posthog.example.com",
        f"http://127.0.0.1:{port}#@evil.example",
        f"http://127.0.0.1:{port} @evil.example",
    ]
    for url in tricks:
        env = {"POSTHOG_API_KEY": API_KEY, "POSTHOG_PROJECT_ID": "1", "POSTHOG_BASE_URL": url,
               "POSTHOG_PROJECT_API_KEY": PROJECT_KEY}
        with pytest.raises(SettingsError) as info:
            Settings.from_env(env)
        with pytest.raises(SettingsError):
            PostHogClient(url, API_KEY, 1, PROJECT_KEY)
        printed = format_checklist(run_checks(env))
        for text in (str(info.value), printed):
            assert "S3cretPassw0rd" not in text and API_KEY not in text
            assert "POSTHOG_BASE_URL" in text
    assert posthog.seen == []  # nothing connected anywhere
    reliability.add(
        "security: transport",
        "POSTHOG_BASE_URL with a backslash before @ (urllib and urllib3 disagree on the "
        "host), an encoded backslash, user:password@, a fragment or space hiding a host; "
        "Settings, PostHogClient and drawkit doctor",
        len(tricks),
        "refused with a SettingsError naming POSTHOG_BASE_URL; no password or key in the "
        "message or the doctor's checklist; no connection made",
    )
