"""Fault injection for the emulator: 5xx, 429 + Retry-After, slow answers, dropped sockets.

Each request to the capture or private API draws one outcome from a seeded generator, in
this order: drop, 5xx, 429, slow (a slow answer is then served normally). ``script`` forces
the outcomes of the next requests (``"drop"``, ``"slow"``, ``429``, ``503`` ...), first in
first out, before any random draw, so a test can ask for exactly "one 503 then success".
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any

FAULT_FIELDS = (
    "error_rate",
    "error_status",
    "rate_limit_rate",
    "retry_after",
    "slow_rate",
    "slow_seconds",
    "drop_rate",
    "seed",
    "script",
)


@dataclass
class Faults:
    """Fault switches (all off by default). Rates are probabilities in [0, 1]."""

    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    drop_rate: float = 0.0
    seed: int = 0
    script: list[Any] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "seed" and "_rng" in self.__dict__:
            self._rng.seed(value)

    def update(self, **changes: Any) -> None:
        """Set several switches at once (names as in :data:`FAULT_FIELDS`); validated."""
        for name, value in changes.items():
            if name not in FAULT_FIELDS:
                raise ValueError(f"unknown fault switch {name!r}; known: {', '.join(FAULT_FIELDS)}")
            if name.endswith("_rate") and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
            if name == "script":
                value = list(value)
            elif name in ("seed", "error_status", "retry_after"):
                value = int(value)
            else:
                value = float(value)
            setattr(self, name, value)

    def reset(self) -> None:
        """All switches off, seed 0, script empty."""
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            default = f.default_factory() if callable(f.default_factory) else f.default
            super().__setattr__(f.name, default)
        self._rng.seed(0)

    def to_dict(self) -> dict[str, Any]:
        """The switches as JSON-able values."""
        return {name: getattr(self, name) for name in FAULT_FIELDS}

    def draw(self) -> str | int | None:
        """The fault for the next request: "drop", "slow", a status code (5xx/429) or None."""
        with self._lock:
            if self.script:
                outcome = self.script.pop(0)
                return None if outcome in (None, "ok", 200) else outcome
            rng = self._rng
            if self.drop_rate and rng.random() < self.drop_rate:
                return "drop"
            if self.error_rate and rng.random() < self.error_rate:
                return self.error_status
            if self.rate_limit_rate and rng.random() < self.rate_limit_rate:
                return 429
            if self.slow_rate and rng.random() < self.slow_rate:
                return "slow"
        return None
