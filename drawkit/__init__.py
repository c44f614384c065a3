"""drawkit: auditable, weighted promotional prize draws over PostHog data."""

__version__ = "0.1.0"
