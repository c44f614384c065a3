"""One exception hierarchy for drawkit.

Every error says what is wrong and what to do about it; messages never carry a secret
or an unmasked phone number. Callers catch :class:`DrawkitError` to handle them all.
"""

from __future__ import annotations


class DrawkitError(Exception):
    """Base of every error drawkit raises on purpose."""


class ConfigError(DrawkitError, ValueError):
    """A promotion config file is missing, unreadable or invalid (names the key)."""


class SettingsError(ConfigError):
    """An environment setting (POSTHOG_*) is missing or malformed (names the variable)."""


class InputError(DrawkitError, ValueError):
    """Input data (a recharge file, a participants file, a blacklist) cannot be used."""


class InvalidMsisdnError(InputError):
    """A value is not a Nigerian mobile number."""


class PostHogError(DrawkitError):
    """A PostHog call failed; carries the endpoint, HTTP status and attempts made."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.attempts = attempts


class PostHogAuthError(PostHogError):
    """401/403: the key is missing, wrong, or lacks a scope."""


class PostHogNotFoundError(PostHogError):
    """404: the project, cohort or object does not exist."""


class PostHogBadRequestError(PostHogError):
    """400: PostHog rejected the request's content."""


class PostHogRateLimitedError(PostHogError):
    """429 that did not clear within the retry budget."""


class PostHogUnavailableError(PostHogError):
    """5xx, timeouts or dropped connections that did not clear within the retry budget."""


class CohortNotReadyError(PostHogError):
    """A dynamic cohort was still calculating when the wait bound ran out."""


class DrawError(DrawkitError):
    """A draw cannot be run as asked (empty cohort, too many prizes, bad commitment...)."""


class EmptyCohortError(DrawError):
    """The cohort has no eligible participant."""


class NotEnoughParticipantsError(DrawError):
    """More prizes (and reserves) than participants in a tier."""


class CommitmentError(DrawError):
    """A revealed value does not match what was committed before the draw."""


class CohortFrozenError(DrawError):
    """A draw's cohort is frozen already and the new one differs (it never changes once
    committed; before that, only an explicit replace re-freezes it)."""


class LedgerError(DrawkitError):
    """The ledger is unreadable, locked, or its hash chain is broken."""


class VerificationError(DrawkitError):
    """A draw record does not re-derive from its inputs."""


class ReportError(DrawkitError):
    """A notebook failed while building the reports (names the notebook and cell)."""


class BeaconError(DrawkitError):
    """A drand beacon round cannot be fetched, read or authenticated."""


class BeaconFormatError(BeaconError, InputError):
    """A round number, signature, public key or relay answer is malformed (names the field)."""


class BeaconNotAuthenticError(BeaconError):
    """A signature does not verify for its round under the chain's public key, or a chain's
    parameters do not hash to its chain hash."""


class BeaconUnavailableError(BeaconError):
    """No relay gave an authentic answer within the time bound (names the relays tried)."""


class BeaconNotYetPublishedError(BeaconError):
    """The round's publication time has not passed and no relay has it yet."""
