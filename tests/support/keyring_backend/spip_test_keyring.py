"""A file keyring for tests that also answers username-less look-ups.

keyring's API lets a backend return a credential for ``get_credential(service, None)``; the
plain file backend of keyrings.alt does not, while the system stores people use do.  This one
answers with the first username stored for the service.
"""

from __future__ import annotations

import configparser

from keyring.credentials import SimpleCredential
from keyrings.alt.escape import escape, unescape
from keyrings.alt.file import PlaintextKeyring


class UsernamelessPlaintextKeyring(PlaintextKeyring):  # type: ignore[misc]
    """PlaintextKeyring + username-less ``get_credential``."""

    priority = 1

    def get_credential(self, service: str, username: str | None) -> SimpleCredential | None:
        if username is not None:
            return super().get_credential(service, username)
        config = configparser.RawConfigParser()
        config.read(self.file_path, encoding="utf-8")
        section = escape(service)
        if not config.has_section(section):
            return None
        for key in config.options(section):
            user = unescape(key)
            password = self.get_password(service, user)
            if password is not None:
                return SimpleCredential(user, password)
        return None
