"""``python -m pipx_secure`` runs the spip command line."""

from pipx_secure.cli import main

raise SystemExit(main())
