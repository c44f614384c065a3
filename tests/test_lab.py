"""`make lab`: JupyterLab on loopback with a fresh token, listing the drawkit kernel.

The test runs the real target on a free port (installing the `lab` extra on first use),
asks the server's REST API for its kernels with and without the token, and always stops
the whole process group, so no server outlives the test.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
URL_LINE = re.compile(r"http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]{32,})")
INSTALL_DEADLINE = 540  # seconds: the first run installs JupyterLab into the venv
START_DEADLINE = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """`make lab` in its own process group, its output collected line by line."""

    def __init__(self, port: int, home: Path) -> None:
        env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        }
        env.pop("JUPYTER_TOKEN", None)
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"LAB_PORT={port}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], deadline: float) -> re.Match[str]:
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if found := pattern.search(line):
                return found
        pytest.fail("make lab printed no URL with a token:\n" + "".join(self.lines[-40:]))

    def drain(self) -> None:
        while True:
            try:
                line = self._queue.get(timeout=2)
            except queue.Empty:
                return
            if line is None:
                return
            self.lines.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.drain()


def get_kernelspecs(port: int, token: str | None, deadline: float) -> requests.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    while True:
        try:
            return requests.get(
                f"http://127.0.0.1:{port}/api/kernelspecs", headers=headers, timeout=5
            )
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_make_lab_serves_the_drawkit_kernel_on_loopback_with_a_token(tmp_path) -> None:
    port = free_port()
    lab = Lab(port, tmp_path)
    try:
        found = lab.wait_for(URL_LINE, time.monotonic() + INSTALL_DEADLINE)
        assert int(found.group(1)) == port
        token = found.group(2)
        deadline = time.monotonic() + START_DEADLINE
        answer = get_kernelspecs(port, token, deadline)
        assert answer.status_code == 200, answer.text[:300]
        specs = answer.json()["kernelspecs"]
        assert "drawkit" in specs, sorted(specs)
        assert specs["drawkit"]["spec"]["display_name"] == "drawkit"
        assert get_kernelspecs(port, None, deadline).status_code == 403  # the token is needed
        assert get_kernelspecs(port, "0" * 48, deadline).status_code == 403
    finally:
        lab.stop()
    output = "".join(lab.lines)
    assert output.count(token) == 1, "the token must be printed once, by make lab only"
    assert f"http://127.0.0.1:{port}/lab?token=..." in output  # JupyterLab's own line hides it
    assert "Serving notebooks from local directory: " + str(ROOT / "workspace" / "lab") in output
    assert (ROOT / "workspace" / "lab" / "01_daily_cohort.ipynb").is_file()  # a copy to work on
    with socket.socket() as probe, pytest.raises(OSError):
        probe.settimeout(2)
        probe.connect(("127.0.0.1", port))  # stopped: nothing listens any more
