"""What a job runs with: settings and secrets read from the environment once, the clock,
and the open clients.

A door builds one :class:`Runtime` (``Runtime.from_env()``) and passes it to every
use-case; nothing below reads ``os.environ``. The operator secret and the result signing
key (``DRAWKIT_SIGNING_KEY``) are read from it once each. A notebook kernel builds its own from the
environment it was started with (:meth:`Runtime.kernel_env`), so secrets reach it that
way and never as a notebook parameter.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from drawkit.config import SECRET_ENV, SIGNING_KEY_ENV, Settings
from drawkit.errors import ConfigError
from drawkit.redact import register_secrets

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.beacon.chain import ChainInfo
    from drawkit.beacon.client import DrandClient
    from drawkit.contract import ResultSigner
    from drawkit.posthog import PostHogClient
    from drawkit.sources.base import DrawDataSource

Clock = Callable[[], datetime]
CHAIN_HASH_ENV = "DRAWKIT_DRAND_CHAIN_HASH"  # read by drawkit.beacon.client too


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """Settings, the operator secret, the clock and the open clients of one run."""

    env: Mapping[str, str]
    secret_variable: str = SECRET_ENV
    clock: Clock = _utcnow
    sleep: Callable[[float], None] = time.sleep
    _settings: Settings | None = field(default=None, repr=False)
    _secret: tuple[bytes | None] | None = field(default=None, repr=False)
    _posthog: Any = field(default=None, repr=False)
    _drand: Any = field(default=None, repr=False)
    _scratch_secret: bytes | None = field(default=None, repr=False)
    _signer: tuple[ResultSigner | None] | None = field(default=None, repr=False)
    _scratch_signer: ResultSigner | None = field(default=None, repr=False)
    _sources: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        secret_variable: str = SECRET_ENV,
        **overrides: Any,
    ) -> Runtime:
        """A runtime over a copy of ``env`` (default: this process's environment)."""
        copied = dict(os.environ if env is None else env)
        runtime = cls(copied, secret_variable=secret_variable, **overrides)
        register_secrets([copied.get(name) for name in
                          ("POSTHOG_API_KEY", "POSTHOG_PROJECT_API_KEY", SIGNING_KEY_ENV)])
        return runtime

    def __repr__(self) -> str:
        return f"Runtime(secret_variable={self.secret_variable!r})"

    # ---------------------------------------------------------------- settings, secret

    def settings(self, *, require_private: bool = True) -> Settings:
        """The POSTHOG_* settings, validated once; a SettingsError names the variable."""
        if self._settings is None:
            self._settings = Settings.from_env(self.env, require_private=False)
        if require_private:
            Settings.from_env(self.env, require_private=True)  # names what is missing
        return self._settings

    @property
    def secret(self) -> bytes | None:
        """The operator secret (hex in ``secret_variable``), or None when unset. Its
        strength is checked by the draw itself, whichever door called it."""
        if self._secret is None:
            self._secret = (_read_secret(self.env, self.secret_variable),)
        return self._secret[0]

    @property
    def signing_key(self) -> ResultSigner | None:
        """The result signing key from DRAWKIT_SIGNING_KEY (Ed25519: 64 hex digits or a PEM
        block), read once; None when unset; a ConfigError naming the variable when
        malformed."""
        from drawkit.contract import ResultSigner

        if self._signer is None:
            value = (self.env.get(SIGNING_KEY_ENV) or "").strip()
            if value:
                register_secrets([value])
            self._signer = (ResultSigner.from_text(value) if value else None,)
        return self._signer[0]

    def result_signer(self, job: DrawJob) -> ResultSigner:
        """The key that signs the job's results: DRAWKIT_SIGNING_KEY, or a throwaway key
        for a scratch exploration (never the operator's: a scratch draw is not real). A
        real job without the key is a ConfigError saying how to make one."""
        from drawkit.contract import ResultSigner

        if job.scratch:
            if self._scratch_signer is None:
                self._scratch_signer = ResultSigner.generate()
            return self._scratch_signer
        signer = self.signing_key
        if signer is None:
            raise ConfigError(
                f"{SIGNING_KEY_ENV} is not set: it holds the Ed25519 key that signs the "
                "published results (its public key goes into the commitment, so anyone can "
                "tell real results from forged ones). Make one once with python -c 'import "
                "secrets; print(secrets.token_hex(32))', keep it as secret as the operator "
                "secret, and use the same key for every draw"
            )
        return signer

    def now(self) -> datetime:
        """The current time (aware, UTC)."""
        return self.clock()

    def kernel_env(self) -> dict[str, str]:
        """The environment a notebook kernel of this run starts with."""
        return dict(self.env)

    # ---------------------------------------------------------------- clients

    def posthog(self) -> PostHogClient:
        """The run's one PostHog client (built on first use)."""
        if self._posthog is None:
            from drawkit.posthog import PostHogClient

            self._posthog = PostHogClient.from_settings(self.settings())
        return self._posthog

    def drand(self) -> DrandClient:
        """The run's drand client: relays from DRAWKIT_DRAND_RELAYS (default: the League of
        Entropy's public relays) for quicknet, or for the chain named by
        DRAWKIT_DRAND_CHAIN_HASH (its parameters fetched once and checked by their hash)."""
        if self._drand is None:
            from drawkit.beacon.chain import QUICKNET_HASH
            from drawkit.beacon.client import DrandClient, chain_hash_from_env, relays_from_env

            relays = relays_from_env(self.env)
            chain_hash = chain_hash_from_env(self.env)
            if chain_hash is None or chain_hash == QUICKNET_HASH:
                self._drand = DrandClient(relays)
            else:
                self._drand = DrandClient.discover(chain_hash, relays)
        return self._drand

    def beacon_chain(self) -> ChainInfo:
        """The drand chain this run commits to and draws from (quicknet unless configured;
        quicknet is pinned, so knowing it needs no network)."""
        from drawkit.beacon.chain import QUICKNET, QUICKNET_HASH

        wanted = (self.env.get(CHAIN_HASH_ENV) or "").strip().lower()
        if self._drand is None and wanted in ("", QUICKNET_HASH):
            return QUICKNET
        return self.drand().chain

    def scratch_secret(self) -> bytes:
        """A throwaway operator secret for a scratch exploration (this runtime only)."""
        if self._scratch_secret is None:
            import secrets

            self._scratch_secret = secrets.token_bytes(32)
        return self._scratch_secret

    def source(self, job: DrawJob) -> DrawDataSource:
        """The job's participant source, opened once per source and promotion config."""
        spec = job.source.check(participants=False)
        key = (spec, job.config_path, job.results_dir)
        if key not in self._sources:
            self._sources[key] = self._open_source(job)
        return self._sources[key]

    def _open_source(self, job: DrawJob) -> DrawDataSource:
        spec = job.source
        if spec.kind == "posthog":
            from drawkit.posthog.upload import read_not_sent
            from drawkit.sources.posthog import PostHogDataSource

            not_sent = read_not_sent(spec.not_sent) if spec.not_sent is not None else None
            return PostHogDataSource(self.posthog(), job.config, spec.strategy,
                                     not_sent=not_sent)
        from drawkit.sources.local import LocalDataSource

        recharges: Any = spec.recharges
        if recharges is None:  # a participants file: the source only stores results
            import pandas as pd

            recharges = pd.DataFrame(columns=["transaction_id", "msisdn", "amount_ngn",
                                              "timestamp"])
        return LocalDataSource(recharges, spec.blacklist, config=job.config,
                               results_dir=job.results_dir)

    def track(self, job: DrawJob, event: str, properties: dict[str, Any]) -> None:
        """A monitoring event in PostHog when PostHog is the job's source; never fails."""
        if job.source.kind == "posthog":
            self.source(job).track(event, properties)  # type: ignore[attr-defined]


def _read_secret(env: Mapping[str, str], variable: str) -> bytes | None:
    value = (env.get(variable) or "").strip()
    if not value:
        return None
    register_secrets([value])  # secret until the draw reveals it: keep it out of logs
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ConfigError(f"{variable} must hold the operator secret as hex") from None
