"""Offline stand-ins for the outside world, for tests, demos and work without a network.

Nothing here is part of a production draw. :mod:`drawkit.offline.drand_chain` is a local
drand-compatible beacon with its own throwaway key: its rounds are real BLS signatures, but
whoever runs it holds the key and can know every value in advance, so it is never public
randomness.
"""
