"""Test-only stand-in: hogql-parser imports posthog.hogql.errors when it loads."""
