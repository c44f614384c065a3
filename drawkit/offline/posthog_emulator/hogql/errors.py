"""The error every HogQL step raises (answered 400 by the query route)."""

from __future__ import annotations


class HogQLError(ValueError):
    """A query PostHog would refuse: ``code`` is the DRF error code of the 400 answer."""

    def __init__(self, message: str, code: str = "invalid_input") -> None:
        super().__init__(message)
        self.code = code
