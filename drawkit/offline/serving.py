"""An HTTP server on a background thread, for the offline services (the PostHog emulator
and the local drand chain): start on a port (0 = a free one), wait, stop."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class BackgroundServer:
    """``httpd`` serving on a daemon thread called ``name`` from construction on."""

    def __init__(self, httpd: ThreadingHTTPServer, name: str) -> None:
        self.httpd = httpd
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name=name,
                                        daemon=True)
        self._thread.start()

    def wait(self, poll: float = 0.5) -> None:
        """Block the calling thread while the server runs (until stop or Ctrl-C)."""
        while self._thread.is_alive():
            self._thread.join(timeout=poll)

    def stop(self) -> None:
        """Stop serving, close the socket and let the thread end."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
