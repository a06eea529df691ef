"""PEP 740 attestations a publisher uploads next to a distribution, and the provenance document
the index publishes for them.

A publisher (``twine``, ``uv publish``, or a build step) puts ``<file>.publish.attestation``
beside ``<file>``. The index checks what it can without the network: that the object is a PEP
740 attestation (``pypi_attestations.Attestation``), that its in-toto statement is about that
file name, and (once both are indexed) that its sha256 is the file's. It does **not** verify
the Sigstore signature, certificate chain or transparency log entry: that needs Sigstore's
trust root over the network, and is the consumer's job, against the identity the consumer
expects (``pypi-attestations verify attestation --identity ...``).

The publisher identity of the provenance object is the one the signing certificate names
(its OIDC issuer extension and subject alternative name): a Google service account's email,
a GitHub or GitLab workflow. It is what the attestation *claims*; a verification checks it.

Parsing is pure (bytes in); ``read_attestation`` is the one read, bounded and pinned to the
object's generation. The validators are the optional ``attestations`` extra: without it an
attestation is reported as unchecked, never indexed, and nothing else changes.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from pypapo.errors import BadAttestationError, MissingExtraError
from pypapo.layout import ATTESTATION_SUFFIX, attested_path
from pypapo.storage import ObjectInfo, Storage

MAX_ATTESTATION = 64 << 10
"""The largest attestation read. Sigstore's are some 5-10 KiB (a certificate, a signature, one
log entry); each is kept in its project's state, which every event of the project reads."""
EXTRA = "attestations"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPES = frozenset(
    {"https://docs.pypi.org/attestations/publish/v1", "https://slsa.dev/provenance/v1"}
)
"""The attestation types PEP 740 indexes know (``pypi_attestations.AttestationType``)."""
PROVENANCE_CONTENT_TYPE = "application/json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GOOGLE = "https://accounts.google.com"
_GITHUB = "https://token.actions.githubusercontent.com"
_GITLAB = "https://gitlab.com"
# Fulcio's OIDC issuer: 1.3.6.1.4.1.57264.1.8 (a DER UTF8String), or .1.1 (raw) before it
_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"


@dataclass(frozen=True, order=True)
class Attested:
    """One checked attestation, as the project state keeps it. ``publisher`` and
    ``attestation`` are canonical JSON text (sorted keys, compact): equal states are equal
    bytes, and the plan renders the provenance document without any optional dependency."""

    path: str
    """The attestation object's path (``<distribution path>.publish.attestation``)."""
    generation: str
    sha256: str
    """The digest its statement gives the file: provenance is served only while it is the
    indexed file's."""
    publisher: str
    attestation: str

    @property
    def distribution(self) -> str:
        # only attestation paths are parsed or read from a state
        return self.path.removesuffix(ATTESTATION_SUFFIX)


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def provenance_document(entries: list[Attested]) -> bytes:
    """The PEP 740 provenance object for a file's attestations: one bundle per publisher."""
    bundles: dict[str, list[Any]] = {}
    for entry in sorted(entries):
        bundles.setdefault(entry.publisher, []).append(json.loads(entry.attestation))
    body = {
        "version": 1,
        "attestation_bundles": [
            {"publisher": json.loads(publisher), "attestations": attestations}
            for publisher, attestations in sorted(bundles.items())
        ],
    }
    return (canonical(body) + "\n").encode()


def read_attestation(storage: Storage, info: ObjectInfo) -> Attested:
    """Read the object (one ranged read, pinned to its generation: a newer one fails it with
    ``ObjectChangedError``) and check it; too large is refused without a read."""
    if info.size > MAX_ATTESTATION:
        raise BadAttestationError(info.path, f"over {MAX_ATTESTATION} bytes; not read")
    data = storage.read_range(info.path, 0, info.size, info.generation) if info.size else b""
    return parse_attestation(info.path, info.generation, data)


def parse_attestation(path: str, generation: str, data: bytes) -> Attested:
    """Check an attestation object's bytes; a ``BadAttestationError`` saying why not."""
    dist = attested_path(path)
    if dist is None:
        raise BadAttestationError(path, "not an attestation of a distribution's path")
    if len(data) > MAX_ATTESTATION:
        raise BadAttestationError(path, f"over {MAX_ATTESTATION} bytes")
    try:
        import pydantic  # noqa: PLC0415 (the extra's dependencies)
        from pypi_attestations import Attestation  # noqa: PLC0415
    except ImportError as e:
        missing = MissingExtraError("checking attestations", EXTRA)
        raise BadAttestationError(path, f"not checked: {missing}") from e
    try:
        model = Attestation.model_validate_json(data)
    except pydantic.ValidationError as e:
        raise BadAttestationError(path, f"not a PEP 740 attestation object: {_first(e)}") from e
    sha256 = _subject(path, posixpath.basename(dist), model.envelope.statement)
    publisher = _publisher(path, model.verification_material.certificate)
    # the object as uploaded (PEP 740 lets signers add keys), now known to be well formed
    return Attested(path, generation, sha256, canonical(publisher), canonical(json.loads(data)))


def _first(error: Any) -> str:
    """The first problem pydantic found, in one short line."""
    first = error.errors()[0]
    if first["type"] == "json_invalid":
        return "invalid JSON"
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).lower()
    return f"{where}: {message}" if where else message


def _subject(path: str, filename: str, raw: bytes) -> str:
    """The sha256 the statement gives ``filename``, its only subject."""
    try:
        statement = json.loads(raw)
    except ValueError as e:
        raise BadAttestationError(path, "its statement is not JSON") from e
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise BadAttestationError(path, "its statement is not an in-toto v1 statement")
    predicate = statement.get("predicateType")
    if predicate not in PREDICATE_TYPES:
        raise BadAttestationError(path, f"unknown predicate type {_clip(predicate)}")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1:
        count = len(subjects) if isinstance(subjects, list) else 0
        raise BadAttestationError(
            path, f"its statement must name exactly one file (it names {count})"
        )
    subject = subjects[0]
    name = subject.get("name") if isinstance(subject, dict) else None
    if name != filename:
        raise BadAttestationError(path, f"its statement is about {_clip(name)}, not this file")
    digests = subject.get("digest") if isinstance(subject, dict) else None
    sha256 = digests.get("sha256") if isinstance(digests, dict) else None
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise BadAttestationError(path, "its statement gives no sha256 digest of the file")
    return sha256


def _clip(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _publisher(path: str, der: bytes) -> dict[str, str]:
    """The trusted publisher the certificate names, as a PEP 740 publisher object."""
    from cryptography import x509  # noqa: PLC0415 (a dependency of the extra)

    try:
        cert = x509.load_der_x509_certificate(der)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound) as e:
        raise BadAttestationError(path, "its certificate names no identity") from e
    issuer = _issuer(cert)
    emails = sans.get_values_for_type(x509.RFC822Name)
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    if issuer == _GOOGLE and emails:
        return {"kind": "Google", "email": emails[0]}
    if issuer == _GITHUB and uris:
        # https://github.com/<owner>/<repo>/.github/workflows/<file>@<ref>
        parts = urlsplit(uris[0]).path.split("@")[0].split("/")
        if len(parts) >= 6 and parts[3:5] == [".github", "workflows"]:
            return {"kind": "GitHub", "repository": "/".join(parts[1:3]), "workflow": parts[5]}
    if issuer == _GITLAB and uris:
        # https://gitlab.com/<namespace>/<project>//<path of the CI file>@<ref>
        repository, sep, workflow = unquote(urlsplit(uris[0]).path).partition("//")
        if sep and repository.strip("/") and workflow:
            return {
                "kind": "GitLab",
                "repository": repository.strip("/"),
                "workflow_filepath": workflow.split("@")[0],
            }
    raise BadAttestationError(
        path,
        f"signed by {_clip(issuer)}, no trusted publisher kind PEP 740 names "
        "(a Google service account, a GitHub or GitLab workflow)",
    )


def _issuer(cert: Any) -> str | None:
    from cryptography import x509  # noqa: PLC0415

    for extension in cert.extensions:
        if extension.oid.dotted_string not in {_ISSUER_V2, _ISSUER_V1}:
            continue
        raw = (
            extension.value.value
            if isinstance(extension.value, x509.UnrecognizedExtension)
            else b""
        )
        if extension.oid.dotted_string == _ISSUER_V1:
            return str(raw.decode(errors="replace"))
        # a DER UTF8String: tag 0x0c, a length (short or long form), the text
        if len(raw) >= 2 and raw[0] == 0x0C:
            start = 2 if raw[1] < 0x80 else 2 + (raw[1] & 0x7F)
            return str(raw[start:].decode(errors="replace"))
    return None


def attested_from_state(where: str, raw: dict[str, object]) -> Attested:
    """An attestation entry of a stored state, checked for the shape ``to_state`` writes (the
    state is read without the extra, so by hand). A ``ValueError`` saying where and what."""
    path, generation, sha256 = raw["path"], raw["generation"], raw["sha256"]
    publisher, attestation = raw["publisher"], raw["attestation"]
    if not isinstance(path, str) or attested_path(path) is None:
        raise ValueError(f"{where}.path: not an attestation's path")
    if not isinstance(generation, str) or not 0 < len(generation) <= 128:
        raise ValueError(f"{where}.generation: not a generation")
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise ValueError(f"{where}.sha256: not 64 lowercase hex digits")
    if not isinstance(publisher, dict) or not isinstance(publisher.get("kind"), str):
        raise _unreadable(f"{where}.publisher: not a publisher object")
    if not (
        isinstance(attestation, dict)
        and attestation.get("version") == 1
        and isinstance(attestation.get("envelope"), dict)
        and isinstance(attestation.get("verification_material"), dict)
    ):
        raise ValueError(f"{where}.attestation: not an attestation object")
    return Attested(path, generation, sha256, canonical(publisher), canonical(attestation))


def _unreadable(what: str) -> ValueError:
    # a ValueError, not a TypeError: the callers' contract is "unreadable state"
    return ValueError(what)


def to_state(entry: Attested) -> dict[str, object]:
    return {
        "attestation": json.loads(entry.attestation),
        "generation": entry.generation,
        "path": entry.path,
        "publisher": json.loads(entry.publisher),
        "sha256": entry.sha256,
    }
