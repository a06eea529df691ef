"""Compute ``generator/pypapo/name_weights.json``, the leaves a sharded build cuts its name
ranges from (``pypapo.shards``), from a list of project names: the first column of a
tab-separated file with a header line (public PyPI project names). Also prints how evenly the
result splits those names between 2, 10 and 40 tasks.

    python bench/name_weights.py NAMES.tsv [--write]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from packaging.utils import canonicalize_name

from pypapo.storage import KEY_ALPHABET, KEY_LENGTH, basename_key

TABLE = Path(__file__).resolve().parents[1] / "generator" / "pypapo" / "name_weights.json"
SPLIT_SHARE = 0.005
"""A prefix holding more than this share of the names is split into longer leaves."""
SOURCE = "name-prefix frequencies of public PyPI project names, measured 2026-12"


def read_keys(path: Path) -> Counter[str]:
    """Each name's key, counted."""
    keys: Counter[str] = Counter()
    with path.open(encoding="utf-8") as lines:
        next(lines)  # the header
        for line in lines:
            name = line.split("\t", 1)[0].strip()
            if name:
                keys[basename_key(canonicalize_name(name))] += 1
    return keys


def weight(keys: Counter[str], prefix: str) -> int:
    return sum(n for key, n in keys.items() if key.startswith(prefix))


def split(keys: Counter[str], prefix: str, limit: float) -> dict[str, int]:
    """Leaves below ``prefix``: itself, or its children's leaves when it is heavy. A prefix
    ending in ``-`` is never split (``pypapo.shards`` explains why), nor one of full length."""
    total = weight(keys, prefix)
    if len(prefix) == KEY_LENGTH or prefix.endswith("-") or (prefix and total <= limit):
        return {prefix: total}
    leaves: dict[str, int] = {}
    for c in KEY_ALPHABET:
        leaves.update(split(keys, prefix + c, limit))
    return leaves


def table(keys: Counter[str]) -> dict[str, int]:
    return split(keys, "", SPLIT_SHARE * sum(keys.values()))


def balance(keys: Counter[str], counts: tuple[int, ...]) -> list[str]:
    """Per task count: the largest and smallest task's share of the names, against 1/count."""
    from pypapo import shards  # noqa: PLC0415 (reads the committed table)

    rows = ["| tasks | even share | largest | smallest | largest / even |", "|---|---|---|---|---|"]
    total = sum(keys.values())
    for count in counts:
        per = Counter(dict.fromkeys(range(count), 0))
        for key, n in keys.items():
            per[shards.owner(key, count)] += n
        big, small = max(per.values()) / total, min(per.values()) / total
        rows.append(f"| {count} | {1 / count:.2%} | {big:.2%} | {small:.2%} | {big * count:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", type=Path)
    parser.add_argument("--write", action="store_true", help=f"write {TABLE.name}")
    args = parser.parse_args()
    keys = read_keys(args.names)
    if args.write:
        leaves = table(keys)
        document = {"source": SOURCE, "names": sum(keys.values()), "leaves": leaves}
        TABLE.write_text(json.dumps(document, indent=0, sort_keys=True) + "\n", "utf-8")
        print(f"{len(leaves)} leaves written to {TABLE}")
    print("\n".join(balance(keys, (2, 10, 40, 64))))


if __name__ == "__main__":
    main()
