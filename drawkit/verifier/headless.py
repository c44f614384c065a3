"""Drive the verifier page in headless Chromium over the DevTools protocol (a pipe, no
network port): open the page from ``file://``, choose its files as a user would, press a
button and read what the page shows. Used by the tests and by ``make bench``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from drawkit.errors import DrawkitError

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
)


class BrowserError(DrawkitError):
    """Chromium is missing, died, or the page did not answer in time."""


def find_chromium() -> str:
    """The Debian chromium binary (``make browser`` installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None and Path("/usr/bin/chromium").exists():
        path = "/usr/bin/chromium"
    if path is None:
        raise BrowserError("chromium is not installed: run `make browser` (Debian chromium)")
    return path


class HeadlessPage:
    """One headless Chromium with one tab, spoken to over ``--remote-debugging-pipe``."""

    def __init__(self, chromium: str | None = None, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="drawkit-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: the protocol's fds are 3 (in) and 4 (out)
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._process = subprocess.Popen(
            [chromium or find_chromium(), *FLAGS, f"--user-data-dir={self._profile.name}",
             "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire,  # only dup2 before exec
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)

    # ------------------------------------------------------------------ protocol

    def send(self, method: str, params: dict | None = None, *, session: bool = False) -> dict:
        """Call a DevTools method and wait for its answer (events are kept in ``events``)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError(f"chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError("chromium closed the DevTools pipe (it exited)")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(line)

    # ------------------------------------------------------------------ page

    def open(self, page: Path, ready: str = "window.drawkitVerifierReady === true") -> None:
        """Load ``page`` from file:// and wait until ``ready`` is true."""
        self.send("Page.navigate", {"url": page.resolve().as_uri()}, session=True)
        deadline = time.monotonic() + self.timeout
        while not self.evaluate(f"typeof window !== 'undefined' && ({ready})", wait=False):
            if time.monotonic() > deadline:
                raise BrowserError(f"{page.name} did not become ready: {self.errors()}")
            time.sleep(0.05)

    def evaluate(self, expression: str, *, wait: bool = True) -> Any:
        """The JSON value of ``expression`` in the page (awaited when it is a promise)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": wait, "returnByValue": True},
            session=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"the page threw: {text}")
        return result.get("result", {}).get("value")

    def choose_files(self, selector: str, paths: list[Path]) -> None:
        """Set the files of the ``<input type=file>`` at ``selector`` (as a user choosing)."""
        root = self.send("DOM.getDocument", {"depth": 0}, session=True)["root"]["nodeId"]
        node = self.send("DOM.querySelector", {"nodeId": root, "selector": selector},
                         session=True)["nodeId"]
        if not node:
            raise BrowserError(f"the page has no {selector}")
        self.send("DOM.setFileInputFiles",
                  {"nodeId": node, "files": [str(Path(p).resolve()) for p in paths]}, session=True)

    def errors(self) -> list[str]:
        """Exceptions and console errors the page has raised so far."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(details.get("exception", {}).get("description") or details.get("text"))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"].get("text", ""))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in
                                      params.get("args", [])))
        return found

    def close(self) -> None:
        """End this Chromium (the one this object started) and remove its profile."""
        try:
            self.send("Browser.close")
        except BrowserError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    def __enter__(self) -> HeadlessPage:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def verify_in_page(
    page: HeadlessPage,
    index: Path,
    record: Path | None = None,
    *,
    participants: Path | None = None,
    public_cohort: Path | None = None,
    accept_local_chain: bool = False,
) -> dict[str, Any]:
    """Open the verifier at ``index``, choose the files, press Verify; return the page's
    result (``verdict``, ``checks``, ``lines``, ``elapsedMs``) and what it shows."""
    page.open(index)
    for selector, path in (("#record-file", record), ("#participants-file", participants),
                           ("#cohort-file", public_cohort)):
        if path is not None:
            page.choose_files(selector, [path])
    page.evaluate(f"document.getElementById('accept-local-chain').checked = "
                  f"{'true' if accept_local_chain else 'false'}")
    result = page.evaluate(
        "document.getElementById('verify').click();"
        "window.drawkitVerifierRun.then((r) => JSON.parse(JSON.stringify(r)))"
    )
    result["shown"] = page.evaluate(
        "({verdict: document.getElementById('verdict').textContent,"
        " text: document.getElementById('result').innerText})"
    )
    return result
