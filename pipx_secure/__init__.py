"""spip: pip with per-package source pinning.

Every package name maps to exactly one index through a source map; spip resolves the whole
graph itself, asking each name's index only, and runs pip offline over verified artifacts.
"""

__version__ = "0.1.0"
