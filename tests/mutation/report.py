"""``make mutation``'s summary: the score per module from mutmut's results in ``mutants/``.

Prints one line per module and ``mutation: killed=… total=… score=…`` over all of them, and
lists the survivors; exits 1 when a module scores below ``--target`` (0.9). A mutant counts as
killed when a test failed (or timed out) with it; ``survived`` and ``no tests`` count against.
Survivors that cannot be killed (equivalent mutants) are explained in ``survivors.md`` beside
this file and counted as killed when they are listed in its table of equivalents by name.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = ["main"]

_KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, or a timeout (an endless loop)
_EXPLAINED = re.compile(r"^\| `([\w.ǁ]+__mutmut_\d+)` \|", re.MULTILINE)


def _module(mutant: str) -> str:
    return mutant.split(".x_")[0].split(".xǁ")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--explained", type=Path, default=Path(__file__).with_name("survivors.md"))
    parser.add_argument("--target", type=float, default=0.9)
    args = parser.parse_args(argv)
    explained = set(_EXPLAINED.findall(args.explained.read_text()))
    table: dict[str, list[int]] = {}
    survivors: list[str] = []
    for meta in sorted(args.mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for mutant, code in sorted(codes.items()):
            row = table.setdefault(_module(mutant), [0, 0])
            row[1] += 1
            if code in _KILLED or mutant in explained:
                row[0] += 1
            else:
                survivors.append(f"{mutant} ({'not run' if code is None else code})")
    if not table:
        print("mutation: no results in", args.mutants, file=sys.stderr)
        return 2
    width = max(len(name) for name in table)
    print(f"{'module':<{width}}  killed  total  score")
    for name, (killed, total) in sorted(table.items()):
        print(f"{name:<{width}}  {killed:>6}  {total:>5}  {killed / total:.3f}")
    killed, total = (sum(row[i] for row in table.values()) for i in (0, 1))
    for survivor in survivors:
        print("survived:", survivor)
    print(f"mutation: killed={killed} total={total} score={killed / total:.3f}")
    below = [name for name, (k, t) in table.items() if k / t < args.target]
    if below:
        print(f"below {args.target}: {', '.join(sorted(below))}", file=sys.stderr)
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
