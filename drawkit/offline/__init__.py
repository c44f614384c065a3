"""Offline stand-ins for the outside world (a PostHog emulator, a local drand test chain): the offline default and the test doubles, never part of a draw's production flow."""
