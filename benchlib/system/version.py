"""The package's version, where every layer (and a fleet worker checking its match) can read it."""

__version__ = "0.1.0"
