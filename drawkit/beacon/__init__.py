"""drand randomness: the chain drawkit pins, offline verification of rounds, an HTTP client.

>>> from drawkit.beacon import QUICKNET, verify_round
>>> verify_round(QUICKNET, 123, "b75c69d0...").randomness_hex     # doctest: +SKIP

* :mod:`drawkit.beacon.chain`: :class:`ChainInfo` (quicknet pinned as :data:`QUICKNET`) and
  round arithmetic (``round_time``, ``round_at``, ``round_after``, ``round_url``).
* :mod:`drawkit.beacon.verify`: :func:`verify_round` authenticates a round's BLS signature
  offline and returns a :class:`Beacon`.
* :mod:`drawkit.beacon.client`: :class:`DrandClient` fetches rounds from relays with
  failover, timeouts and bounded retries, and checks every answer itself.

See docs/beacon.md for the verification procedure step by step. Names load on first use,
so round arithmetic (``drawkit.beacon.chain``) imports neither HTTP nor BLS libraries.
"""

from __future__ import annotations

from drawkit.lazy import lazy_exports

_EXPORTS = {
    "DST": "bls",
    "SCHEME_ID": "bls",
    "round_message": "bls",
    "DEFAULT_RELAY": "chain",
    "LOCAL_TEST_BEACON_ID": "chain",
    "QUICKNET": "chain",
    "QUICKNET_HASH": "chain",
    "ChainInfo": "chain",
    "chain_hash": "chain",
    "DEFAULT_RELAYS": "client",
    "ENV_CHAIN_HASH": "client",
    "ENV_RELAYS": "client",
    "BeaconRetryPolicy": "client",
    "DrandClient": "client",
    "WaitProgress": "client",
    "chain_hash_from_env": "client",
    "relays_from_env": "client",
    "validate_relay": "client",
    "Beacon": "verify",
    "randomness_of": "verify",
    "verify_answer": "verify",
    "verify_round": "verify",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
