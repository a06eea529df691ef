"""``GCSStorage`` for fake-gcs-server, the emulator the tests and the benchmark run against.

Chosen by ``GCSStorage.from_url`` when ``STORAGE_EMULATOR_HOST`` is set, and constructed
directly by the tests; never against GCS, which needs none of this (each workaround here costs
GCS an extra request or hides a real failure). What the emulator does differently
(shared/notes and ``tests/test_storage_contract.py``):

- it ignores ``ifGenerationMatch`` on deletes: the generation is read first, which leaves
  the emulator a race window between the two requests (GCS enforces it atomically);
- it stores a metadata key patched to null as "" (which would read as a yank without reason):
  the whole map is replaced instead;
- it has answered 409 where GCS answers 412 to a failed precondition.
"""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions

from pypapo.storage.gcs import _CLIENT_ERRORS, GCSStorage, _generation_number


class EmulatorGCSStorage(GCSStorage):
    precondition_failed = (exceptions.PreconditionFailed, exceptions.Conflict)

    def delete(self, path: str, *, if_token: str | None = None) -> bool:
        generation = _generation_number(if_token) if if_token is not None else None
        if generation:
            try:
                current = self.bucket.get_blob(self._name(path), retry=self.retry)
            except _CLIENT_ERRORS as e:
                raise self._failure("delete", path, e) from e
            if current is None or current.generation != generation:
                return False
        return super().delete(path, if_token=if_token)

    def _patched(self, blob: Any, key: str, value: str | None) -> None:
        if value is None and key in (blob.metadata or {}):
            blob.metadata = {k: v for k, v in blob.metadata.items() if k != key}
            blob.update(if_metageneration_match=blob.metageneration, retry=self.retry)
