"""Local drand chains on loopback: each LocalDrandChain is one relay of one throwaway chain."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from drawkit.beacon import ChainInfo
from drawkit.offline.drand_chain import LocalDrandChain


@pytest.fixture
def chain() -> Iterator[LocalDrandChain]:
    """A local chain with a 1-second period, genesis a few rounds ago, serving on loopback."""
    with LocalDrandChain(period=1, genesis_time=int(time.time()) - 5) as server:
        yield server


@pytest.fixture
def relay_for(chain: LocalDrandChain) -> Iterator[Callable[[], LocalDrandChain]]:
    """More relays of the same chain, each with its own fault switches."""
    started: list[LocalDrandChain] = []

    def make() -> LocalDrandChain:
        started.append(chain.another_relay().start())
        return started[-1]

    yield make
    for relay in started:
        relay.stop()


@pytest.fixture
def info(chain: LocalDrandChain) -> ChainInfo:
    """The chain's parameters as the client knows them (the record would carry them)."""
    return ChainInfo.from_json(chain.info(), expected_hash=chain.chain_hash)
