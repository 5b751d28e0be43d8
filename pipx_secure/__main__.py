"""``python -m pipx_secure`` runs the spip command line."""

from pipx_secure.cli.quick import entry

entry()
