"""drand randomness: the chain drawkit pins, offline verification of rounds, an HTTP client.

>>> from drawkit.beacon import QUICKNET, verify_round
>>> verify_round(QUICKNET, 123, "b75c69d0...").randomness_hex     # doctest: +SKIP

* :mod:`drawkit.beacon.chain`: :class:`ChainInfo` (quicknet pinned as :data:`QUICKNET`) and
  round arithmetic (``round_time``, ``round_at``, ``round_after``, ``round_url``).
* :mod:`drawkit.beacon.verify`: :func:`verify_round` authenticates a round's BLS signature
  offline and returns a :class:`Beacon`.
* :mod:`drawkit.beacon.client`: :class:`DrandClient` fetches rounds from relays with
  failover, timeouts and bounded retries, and checks every answer itself.

See docs/beacon.md for the verification procedure step by step.
"""

from __future__ import annotations

from drawkit.beacon.bls import DST, SCHEME_ID, round_message
from drawkit.beacon.chain import (
    DEFAULT_RELAY,
    LOCAL_TEST_BEACON_ID,
    QUICKNET,
    QUICKNET_HASH,
    ChainInfo,
    chain_hash,
)
from drawkit.beacon.client import (
    DEFAULT_RELAYS,
    ENV_CHAIN_HASH,
    ENV_RELAYS,
    BeaconRetryPolicy,
    DrandClient,
    WaitProgress,
    chain_hash_from_env,
    relays_from_env,
    validate_relay,
)
from drawkit.beacon.verify import Beacon, randomness_of, verify_answer, verify_round

__all__ = [
    "DEFAULT_RELAY",
    "DEFAULT_RELAYS",
    "DST",
    "ENV_CHAIN_HASH",
    "ENV_RELAYS",
    "LOCAL_TEST_BEACON_ID",
    "QUICKNET",
    "QUICKNET_HASH",
    "SCHEME_ID",
    "Beacon",
    "BeaconRetryPolicy",
    "ChainInfo",
    "DrandClient",
    "WaitProgress",
    "chain_hash",
    "chain_hash_from_env",
    "randomness_of",
    "relays_from_env",
    "round_message",
    "validate_relay",
    "verify_answer",
    "verify_round",
]
