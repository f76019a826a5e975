"""The claims file (``elt_study/experiments/claims.toml``): the study's conclusions as data, checked when loaded.

Each ``[[claim]]`` names two matrix rows, a subset and a direction (``landmark_core.claims.Claim``); the report
judges every claim on the run's numbers. A mistake is one line naming the file, the claim and the key.
"""

from __future__ import annotations

from pathlib import Path

from landmark_core.claims import Claim
from landmark_core.config import ConfigError, from_dict, read_table_file
from landmark_core.report import ALL_SUBSETS


def load_claims(path: Path, *, rows: list[str], table: str = "claim") -> tuple[Claim, ...]:
    """Read and check a claims file (the study's ``[[claim]]`` tables, or the ``[[hypothesis]]`` tables of the
    future-work file: the same fields, judged the same way).

    Args:
        path: the TOML file.
        rows: the matrix's row names (a claim about another row is an error).
        table: the array of tables to read.

    Raises:
        ConfigError: an unknown key, a wrong type, a duplicate id, an unknown row or subset.
    """
    path = Path(path)
    claims, seen = [], set()
    for i, raw in enumerate(read_table_file(path).get(table, []), start=1):
        where = f"{path}: {table} {i}"
        claim = from_dict(Claim, raw, where=where)
        if claim.id in seen:
            raise ConfigError(f"{where}: duplicate id {claim.id!r}")
        seen.add(claim.id)
        for key in ("row", "than"):
            if getattr(claim, key) not in rows:
                raise ConfigError(f"{where}: {key} = {getattr(claim, key)!r}: not a matrix row")
        if claim.subset not in ALL_SUBSETS:
            raise ConfigError(f"{where}: subset = {claim.subset!r}: expected one of {', '.join(ALL_SUBSETS)}")
        claims.append(claim)
    return tuple(claims)
