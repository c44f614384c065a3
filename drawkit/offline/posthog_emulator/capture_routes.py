"""Capture: ``POST /batch/``, ``/i/v0/e/``, ``/e/``, ``/capture/``, ``/track/``, ``/engage/``.

As PostHog's Rust capture service (``rust/capture/src/v0_request.rs``, ``v0_endpoint.rs``):
three body shapes (a JSON array, a batch object, a single event), gzip detected by magic
bytes, ``data=`` form bodies (base64 or plain), the token from ``api_key``/``token``/
``$token``/``properties.token`` (one per request; a ``phx_`` personal key is refused), the
request's ``sent_at`` kept for the timestamp correction, all or nothing, 200
``{"status": 1}``. Events then wait for the ingestion pipeline (:mod:`.store`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from drawkit.offline.posthog_emulator.ingestion import CaptureError
from drawkit.offline.posthog_emulator.protocol import ApiError, Request, loads, validation_error

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.state import EmulatorState

Response = tuple[int, Any, dict[str, str]]
BATCH_BODY_LIMIT = 20 * 1024 * 1024  # BATCH_BODY_SIZE
EVENT_BODY_LIMIT = 2 * 1024 * 1024  # EVENT_BODY_SIZE
BAD_PROJECT_KEY = (
    "Project API key invalid. You can find your project API key in PostHog project settings."
)


def events_and_tokens(body: Any) -> tuple[list[Any], set[str], Any]:
    """Events, the tokens they carry and the request's ``sent_at``, from any body shape."""
    sent_at = None
    if isinstance(body, list):
        events, tokens = body, set()
    elif isinstance(body, Mapping) and "batch" in body:
        events = body["batch"]
        tokens = {str(body.get("api_key") or body.get("token") or "")} - {""}
        sent_at = body.get("sent_at")
        if not isinstance(events, list):
            raise validation_error("'batch' must be a list of events", "batch", "invalid_payload")
    elif isinstance(body, Mapping):
        events, tokens = [body], set()
        sent_at = body.get("sent_at")
    else:
        raise validation_error("the body must be a JSON object or array", None, "invalid_payload")
    for event in events:
        if isinstance(event, Mapping):
            props = event.get("properties") if isinstance(event.get("properties"), Mapping) else {}
            token = event.get("api_key") or event.get("token") or event.get("$token")
            token = token or props.get("token")
            if token:
                tokens.add(str(token))
    return events, tokens, sent_at


def _decoded_body(request: Request) -> Any:
    body = request.body
    content_type = request.headers.get("Content-Type") or ""
    if "application/x-www-form-urlencoded" in content_type or body.startswith(b"data="):
        form = parse_qs(body.decode("utf-8", "replace"))
        data = (form.get("data") or [""])[0]
        try:
            body = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            body = data.encode("utf-8")
    if not body.strip():
        return None
    try:
        return loads(body)
    except ApiError as exc:
        raise validation_error(f"failed to decode request: {exc}", None, "invalid_payload") from exc


def capture(state: EmulatorState, request: Request) -> Response:
    """Accept a capture request: validate every event, queue them for ingestion."""
    if request.method == "GET" and not request.body:
        return 200, {"status": 1}, {}
    limit = BATCH_BODY_LIMIT if request.path.startswith("/batch") else EVENT_BODY_LIMIT
    if len(request.body) > limit:
        raise validation_error("Event too big", None, "event_too_big")
    body = _decoded_body(request)
    if body is None:
        raise validation_error("request holds no event", None, "empty_payload")
    events, tokens, sent_at = events_and_tokens(body)
    if not tokens:
        raise ApiError(
            401, "authentication_error", "missing_api_key",
            "API key not provided. You can find your project API key in PostHog project "
            "settings.",
        )  # fmt: skip
    if len(tokens) > 1:
        raise ApiError(401, "authentication_error", "invalid_api_key", "Multiple tokens sent")
    if tokens.pop() != state.project_api_key:
        raise ApiError(401, "authentication_error", "invalid_api_key", BAD_PROJECT_KEY)
    try:
        state.store.capture(events, sent_at=sent_at)
    except CaptureError as exc:
        raise validation_error(str(exc), None, "invalid_payload") from exc
    return 200, {"status": 1}, {}
