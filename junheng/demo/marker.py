"""Whether a landing zone holds demo feeds: `junheng demo-feeds` writes `<landing>/.demo/`
(its ledger and manifest.json with the options) beside the files it generates; the ingest
never reads dot folders, departments never write one. The release's page shows a notice
when it is there."""

from __future__ import annotations

import json
from pathlib import Path

LEDGER_DIR = ".demo"


def demo_feeds(landing: Path) -> dict | None:
    """{'options': {...}} of the demo generator when the landing zone holds demo feeds,
    else None."""
    folder = Path(landing) / LEDGER_DIR
    if not folder.is_dir():
        return None
    try:
        summary = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    opts = summary.get("options", {}) if isinstance(summary, dict) else {}
    return {"options": {k: opts[k] for k in ("seed", "scale", "defect_rate", "years")
                        if k in opts}}
