"""PEP 740 attestations made offline, for tests: structurally what ``twine`` and ``uv publish``
upload (``<file>.publish.attestation``), signed by a self-made certificate.

A real attestation is signed with a short-lived Sigstore certificate and logged in Rekor, which
needs the network. These carry a self-signed certificate with the Fulcio extensions a Google
service account's certificate has (the issuer, the email SAN), a real in-toto statement and a
real ECDSA signature over its DSSE envelope, and a made-up transparency log entry: every check
the index makes passes, and a Sigstore verification would (rightly) fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVICE_ACCOUNT = "publisher@example-project.iam.gserviceaccount.com"
GOOGLE_ISSUER = "https://accounts.google.com"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def _utf8_der(text: str) -> bytes:
    """A DER UTF8String, as Fulcio encodes its extensions (short lengths only)."""
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def certificate(
    key: ec.EllipticCurvePrivateKey,
    *,
    email: str | None = SERVICE_ACCOUNT,
    uri: str | None = None,
    issuer: str = GOOGLE_ISSUER,
) -> bytes:
    """A self-signed certificate shaped like Fulcio's: the identity in the SAN, the OIDC issuer
    in extension 1.3.6.1.4.1.57264.1.8. DER bytes."""
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev")])
    sans: list[x509.GeneralName] = []
    if email is not None:
        sans.append(x509.RFC822Name(email))
    if uri is not None:
        sans.append(x509.UniformResourceIdentifier(uri))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(_WHEN)
        .not_valid_after(_WHEN + timedelta(minutes=10))
        .add_extension(x509.SubjectAlternativeName(sans), critical=True)
        .add_extension(x509.UnrecognizedExtension(_ISSUER_V2, _utf8_der(issuer)), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def statement(filename: str, sha256: str, predicate_type: str = PUBLISH_V1) -> bytes:
    """An in-toto v1 statement about one distribution file."""
    body = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": filename, "digest": {"sha256": sha256}}],
        "predicateType": predicate_type,
        "predicate": None,
    }
    return json.dumps(body, sort_keys=True).encode()


def _pae(payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = _PAYLOAD_TYPE.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def attestation(
    filename: str,
    sha256: str,
    *,
    email: str | None = SERVICE_ACCOUNT,
    uri: str | None = None,
    issuer: str = GOOGLE_ISSUER,
    body: bytes | None = None,
) -> dict[str, object]:
    """A PEP 740 attestation object (as JSON data) for ``filename`` with digest ``sha256``;
    ``body`` replaces the statement (for statements that are wrong on purpose)."""
    key = ec.generate_private_key(ec.SECP256R1())
    payload = statement(filename, sha256) if body is None else body
    signature = key.sign(_pae(payload), ec.ECDSA(hashes.SHA256()))
    entry = {
        "logIndex": "1",
        "logId": {"keyId": base64.b64encode(b"\0" * 32).decode()},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": str(int(_WHEN.timestamp())),
        "canonicalizedBody": base64.b64encode(b"{}").decode(),
    }
    return {
        "version": 1,
        "verification_material": {
            "certificate": base64.b64encode(
                certificate(key, email=email, uri=uri, issuer=issuer)
            ).decode(),
            "transparency_entries": [entry],
        },
        "envelope": {
            "statement": base64.b64encode(payload).decode(),
            "signature": base64.b64encode(signature).decode(),
        },
    }


def attest_file(dist: Path, **kw: object) -> Path:
    """Write ``<dist>.publish.attestation`` next to ``dist``, for its name and bytes."""
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    data = attestation(dist.name, digest, **kw)  # type: ignore[arg-type]
    target = dist.with_name(dist.name + ".publish.attestation")
    target.write_text(json.dumps(data))
    return target
