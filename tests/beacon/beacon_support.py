"""Shared values and helpers of the beacon tests."""

from __future__ import annotations

import socket

from drawkit.beacon import BeaconRetryPolicy, ChainInfo, DrandClient

# Real quicknet rounds (docs/beacon.md): round 123 from noislabs/drand-verify, round
# 12040883 from drand/tlock. Round 123's randomness as nois-contracts computed it with
# Node.js's SHA-256, independently of drawkit.
ROUND_123 = 123
SIGNATURE_123 = (
    "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92"
)
RANDOMNESS_123 = "fb8f7bc29bf24db51871ec8c79f3a1e4bd0557bc0dfcee9ed1d924e69d1c60dc"
ROUND_12040883 = 12040883
SIGNATURE_12040883 = (
    "929906c959032ab363c9f26570d215d66f5c06cb0c44fe508c12bb5839f04ec895bb6868e5b9ff13ab289bdb5266b394"
)
FAST = BeaconRetryPolicy(max_passes=3, max_seconds=5.0, backoff_initial=0.05, backoff_max=0.2)


def make_client(
    relays: list[str], info: ChainInfo, timeout: float = 0.5, **options
) -> DrandClient:
    """A client with short timeouts and backoff (loopback answers in milliseconds)."""
    options.setdefault("policy", FAST)
    return DrandClient(relays, info, timeout=timeout, **options)


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
