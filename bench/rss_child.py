"""Run one refresh of some objects in a fresh process and print its peak RSS (the bench's
memory rows): ``python -m bench.rss_child local ROOT PATH...`` or
``... gcs EMULATOR_URL BUCKET PATH...``. Exits 1 when the refresh reported bad files (the
hostile-input rows expect that), printing the same JSON line.

The peak is the kernel's high-water mark of this process image (``VmHWM``). ``ru_maxrss`` is not
used: Linux carries the parent's high-water mark across the ``fork``/``exec`` that starts a
child, so a child of a big parent reports the parent's size.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Sequence

from pypapo.refresh import refresh
from pypapo.storage import Storage
from pypapo.storage.local import LocalStorage


def _storage(kind: str, args: Sequence[str]) -> Storage:
    if kind == "local":
        return LocalStorage(args[0])
    # the Google client only for the bucket: a folder's refresh does not pay its imports
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415
    from google.cloud import storage  # noqa: PLC0415

    from pypapo.storage.emulator import EmulatorGCSStorage  # noqa: PLC0415

    client = storage.Client(
        project="bench",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": args[0]},
    )
    return EmulatorGCSStorage(client.bucket(args[1]))


def peak_kib() -> int:
    """This process image's peak resident set (``VmHWM``), in KiB."""
    with open("/proc/self/status") as f:  # noqa: PTH123
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    kind = args[0]
    where = 1 if kind == "local" else 2  # a folder, or an emulator URL and a bucket
    store = _storage(kind, args[1 : 1 + where])
    paths = args[1 + where :]
    baseline = peak_kib()
    start = time.perf_counter()
    report = refresh(store, paths)
    seconds = time.perf_counter() - start
    peak = peak_kib()
    body = {
        "peak_kib": peak,
        "baseline_kib": baseline,
        "seconds": seconds,
        "files": report.files,
        "errors": [str(e) for e in report.errors],
    }
    print(json.dumps(body))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
