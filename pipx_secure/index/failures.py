"""What spip says when an index fails: TLS trust, missing or refused credentials.

Each message names the index and what was being fetched; each hint names the source of the
credential that was tried (environment, keyring, netrc, pip's URL) and the command that fixes
it.  Nothing here ever renders a secret.
"""

from __future__ import annotations

from pipx_secure.config.credentials import Credential
from pipx_secure.errors import AuthError, IndexError_
from pipx_secure.index.tls import TrustSettings, describe
from pipx_secure.model.redact import RedactedUrl
from pipx_secure.model.sourcemap import AuthMode, Index


def tls_error(
    index: Index, url: str, what: str, detail: str, settings: TrustSettings
) -> IndexError_:
    """The error for a failed TLS handshake: what was trusted, and the settings that fix it."""
    if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
        return IndexError_(
            f"index {index.name} ({index.redacted}): the TLS certificate of "
            f"{RedactedUrl(url).host} is not trusted (while fetching {what}); trusted: "
            f"{describe(index, settings)}",
            hint=f"set `ca-bundle` for [indexes.{index.name}] in the source map to the CA "
            "certificate that signed it, or add that CA to the system store or PIP_CERT "
            "(a TLS-intercepting proxy's CA belongs there)",
        )
    return IndexError_(
        f"index {index.name} ({index.redacted}): the TLS handshake with "
        f"{RedactedUrl(url).host} failed (while fetching {what})",
        hint=f"if the index requires a client certificate, set `client-cert` for "
        f"[indexes.{index.name}] in the source map (a PEM file with the key)",
    )


def auth_error(
    index: Index,
    status: int,
    credential: Credential | None,
    what: str,
    looked_in: list[str],
) -> AuthError:
    """The error for a 401/403 from ``index``: which credential, from where, how to fix it."""
    fix = f"run `spip auth set {index.name}`"
    if credential is None:
        if index.auth is AuthMode.NEVER:
            hint = (
                f"the default index gets credentials only when the map names its username: "
                f'add username = "..." to [indexes.{index.name}], then {fix}'
            )
        else:
            hint = (
                f"looked in: {', '.join(looked_in)}; {fix} (or set {index.env_prefix}_USERNAME "
                f"and {index.env_prefix}_PASSWORD)"
            )
        return AuthError(
            f"index {index.name} ({index.redacted}) requires credentials (HTTP {status}) for "
            f"{what}, and none was found",
            hint=hint,
        )
    used = f"user {credential.username!r} (from {credential.username_from})"
    if credential.source == "environment":
        hint = f"the password in {credential.where} was refused for {used}; correct it"
        if credential.username_from.startswith("the token"):
            hint += f", or set {index.env_prefix}_USERNAME (or `username` in the map)"
    elif credential.source == "keyring":
        hint = (
            f"the password stored in keyring ({credential.where}) was refused for {used}; "
            f"{fix} to store the right one"
        )
    elif credential.source == "netrc":
        hint = f"the password in {credential.where} was refused for {used}; fix that entry or {fix}"
    else:
        hint = f"the password in pip's index-url was refused for {used}; {fix}"
    return AuthError(
        f"index {index.name} ({index.redacted}) refused the credentials (HTTP {status}) for {what}",
        hint=hint,
    )
