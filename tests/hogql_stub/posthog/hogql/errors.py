"""Test-only stand-in for PostHog's posthog.hogql.errors (what hogql-parser raises)."""


class BaseHogQLError(Exception):
    def __init__(self, message: str = "", *, start=None, end=None, node=None) -> None:
        super().__init__(message)
        self.start, self.end, self.node = start, end, node


class SyntaxError(BaseHogQLError):  # noqa: A001 - PostHog's name
    pass


class NotImplementedError(BaseHogQLError):  # noqa: A001 - PostHog's name
    pass


class ParsingError(BaseHogQLError):
    pass


class ExposedHogQLError(BaseHogQLError):
    pass


class InternalHogQLError(BaseHogQLError):
    pass
