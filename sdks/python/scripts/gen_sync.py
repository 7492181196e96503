"""Generates the synchronous client (``src/herald/_sync/``) from the asyncio one
(``src/herald/_async/``), which is the only source: edit ``_async``, then run this.

    python scripts/gen_sync.py          # rewrite src/herald/_sync/
    python scripts/gen_sync.py --check  # exit 1 if src/herald/_sync/ is not current (CI)
"""

from __future__ import annotations

import difflib
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parent.parent / "src" / "herald"
FILES = ["__init__.py", "client.py", "resources.py"]

# Names beyond unasync's defaults (__aenter__, AsyncIterator, ...): one token each.
REPLACEMENTS = {
    "AsyncHerald": "Herald",
    "_AsyncResource": "_Resource",
    "AsyncApps": "Apps",
    "AsyncEventTypes": "EventTypes",
    "AsyncEndpoints": "Endpoints",
    "AsyncEvents": "Events",
    "AsyncDeliveries": "Deliveries",
    "AsyncKeys": "Keys",
    "AsyncPortalSessions": "PortalSessions",
    "AsyncClient": "Client",
    "aclose": "close",
    "asyncio": "time",
}

HEADER = "# Generated from src/herald/_async/{name} by scripts/gen_sync.py: do not edit.\n"


def generate(todir: Path) -> None:
    todir.mkdir(parents=True, exist_ok=True)
    rule = unasync.Rule(
        fromdir=str(ROOT / "_async") + "/",
        todir=str(todir) + "/",
        additional_replacements=REPLACEMENTS,
    )
    unasync.unasync_files([str(ROOT / "_async" / f) for f in FILES], [rule])
    for f in FILES:
        path = todir / f
        path.write_text(HEADER.format(name=f) + path.read_text())


def main() -> int:
    if "--check" not in sys.argv[1:]:
        generate(ROOT / "_sync")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_sync"
        generate(fresh)
        stale = False
        for f in FILES:
            want = (fresh / f).read_text().splitlines(keepends=True)
            have_path = ROOT / "_sync" / f
            have = have_path.read_text().splitlines(keepends=True) if have_path.exists() else []
            if want != have:
                stale = True
                sys.stdout.writelines(
                    difflib.unified_diff(have, want, str(have_path), f"generated {f}")
                )
        if stale:
            print("src/herald/_sync/ is stale: run python scripts/gen_sync.py", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
