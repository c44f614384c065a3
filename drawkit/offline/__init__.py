"""Offline stand-ins for the outside world: the offline default and the test doubles, never
part of a draw's production flow.

* :mod:`drawkit.offline.posthog_emulator` — a local PostHog that models PostHog Cloud's
  behaviours (docs/emulator.md), with its own ingestion and a ClickHouse engine.
* :mod:`drawkit.offline.drand_chain` — a local drand-compatible beacon with its own
  throwaway key: its rounds are real BLS signatures, but whoever runs it holds the key and
  can know every value in advance, so it is never public randomness.
"""
