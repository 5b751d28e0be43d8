"""Throwaway certificate authorities and certificates for tests.

``make_ca_and_server_cert`` uses the openssl CLI (RSA).  The other helpers use the
``cryptography`` package (EC P-256 keys: fast enough to mint a certificate per host on the fly,
as the TLS-intercepting proxy does): a CA with any name, a server certificate for
127.0.0.1/localhost and a client certificate (for mutual TLS), each signed by a given CA.  The
certificates carry the extensions strict verifiers ask for (key usages, subject and authority
key identifiers) and are valid from a day ago to two days ahead.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import subprocess
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key), all created under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
        "-days",
        "2",
        "-subj",
        "/CN=spip test CA",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_cert),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return ca_cert, cert, key


def _write_pair(directory: Path, stem: str, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert.write_bytes(cert_pem)
    key.touch(mode=0o600)
    key.write_bytes(key_pem)
    return cert, key


def _issue(
    subject_cn: str,
    *,
    ca_pem: tuple[bytes, bytes] | None,
    is_ca: bool = False,
    hosts: Sequence[str] = (),
    client: bool = False,
) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM); self-signed when ``ca_pem`` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    if ca_pem is None:
        issuer, signing_key = subject, key
    else:
        ca_cert = x509.load_pem_x509_certificate(ca_pem[0])
        issuer = ca_cert.subject
        loaded = serialization.load_pem_private_key(ca_pem[1], password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey), "a CA made by make_ca"
        signing_key = loaded
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(63) + 1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
        critical=False,
    )
    if not is_ca:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(signing_key, hashes.SHA256())
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def make_ca(
    directory: Path, common_name: str = "spip test CA", *, stem: str = "ca"
) -> tuple[Path, Path]:
    """A self-signed CA named ``common_name``: (``<stem>.pem``, ``<stem>.key``) in ``directory``."""
    return _write_pair(directory, stem, *_issue(common_name, ca_pem=None, is_ca=True))


def server_cert_pem(
    ca_cert_pem: bytes, ca_key_pem: bytes, hosts: Sequence[str] = ("127.0.0.1", "localhost")
) -> tuple[bytes, bytes]:
    """A server certificate for ``hosts`` (IP or DNS SANs) signed by the CA, in memory:
    (certificate PEM, key PEM).  The first host is also the subject's common name."""
    return _issue(hosts[0], ca_pem=(ca_cert_pem, ca_key_pem), hosts=hosts)


def make_server_cert(
    directory: Path,
    ca_cert: Path,
    ca_key: Path,
    *,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    stem: str = "server",
) -> tuple[Path, Path]:
    """A server certificate for ``hosts`` signed by the CA: (``<stem>.pem``, ``<stem>.key``)."""
    pem = server_cert_pem(ca_cert.read_bytes(), ca_key.read_bytes(), hosts)
    return _write_pair(directory, stem, *pem)


def make_client_cert(
    directory: Path,
    ca_cert: Path,
    ca_key: Path,
    *,
    common_name: str = "spip test client",
    stem: str = "client",
) -> tuple[Path, Path]:
    """A client certificate (extended key usage clientAuth) signed by the CA:
    (``<stem>.pem``, ``<stem>.key``).  pip's ``--client-cert`` wants both in one file: see
    ``combine_pem``."""
    pem = _issue(common_name, ca_pem=(ca_cert.read_bytes(), ca_key.read_bytes()), client=True)
    return _write_pair(directory, stem, *pem)


def combine_pem(cert: Path, key: Path, dest: Path) -> Path:
    """One PEM file holding a certificate and its private key (pip's ``--client-cert``)."""
    dest.touch(mode=0o600)
    dest.write_bytes(cert.read_bytes() + key.read_bytes())
    return dest
