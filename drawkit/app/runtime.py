"""What a job runs with: settings and secrets read from the environment once, the clock,
and the open clients.

A door builds one :class:`Runtime` (``Runtime.from_env()``) and passes it to every
use-case; nothing below reads ``os.environ``. A notebook kernel builds its own from the
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

from drawkit.config import SECRET_ENV, Settings
from drawkit.errors import ConfigError
from drawkit.redact import register_secrets

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.posthog import PostHogClient
    from drawkit.sources.base import DrawDataSource

Clock = Callable[[], datetime]


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
        register_secrets(
            [copied.get(name) for name in ("POSTHOG_API_KEY", "POSTHOG_PROJECT_API_KEY")]
        )
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
            from drawkit.sources.posthog import PostHogDataSource

            return PostHogDataSource(self.posthog(), job.config, spec.strategy)
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
