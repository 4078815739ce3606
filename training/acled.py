"""Read an ACLED export (CSV, ACLED's column layout) into training examples via typology.yaml's mapping.

Only three columns matter: ``notes`` (the text), ``event_type`` and ``sub_event_type``. A row's labels
come from its sub-event type; the humanitarian labels ACLED does not code are masked out of the loss
(they are unknown for these rows, not negative). Rows of unmapped sub-event types are skipped.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path

from training.data import DataError, Example
from training.typology import Typology

log = logging.getLogger("eventclf.acled")

REQUIRED_COLUMNS = ("notes", "event_type", "sub_event_type")
ACLED_EVENT_TYPES = {"Battles", "Explosions/Remote violence", "Violence against civilians", "Protests", "Riots",
                     "Strategic developments"}


def read_acled(path: str | Path, typology: Typology, lang: str = "en") -> list[Example]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such ACLED export")
    mask = [0 if label in typology.acled_not_coded else 1 for label in typology.label_ids]
    examples, skipped = [], Counter()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)} (an ACLED export has "
                            f"{', '.join(REQUIRED_COLUMNS)} among its columns)")
        try:
            for row in reader:
                where = f"{path.name}: row {reader.line_num}"
                if None in row:  # more cells than header columns
                    raise DataError(f"{where}: more cells than columns in the header")
                event_type = (row["event_type"] or "").strip()
                sub_event = (row["sub_event_type"] or "").strip()
                notes = (row["notes"] or "").strip()
                if event_type not in ACLED_EVENT_TYPES:
                    raise DataError(f"{where}, column event_type: unknown value {event_type!r}")
                if sub_event in typology.acled_unmapped:
                    skipped[sub_event] += 1
                    continue
                if sub_event not in typology.acled_map:
                    raise DataError(f"{where}, column sub_event_type: unknown value {sub_event!r} "
                                    "(map it in typology.yaml under acled.sub_event_types or acled.unmapped)")
                if not notes:
                    raise DataError(f"{where}, column notes: empty")
                examples.append(Example(text=notes, labels=list(typology.acled_map[sub_event]), lang=lang,
                                        source=f"acled:{path.name}", label_mask=list(mask)))
        except csv.Error as err:
            raise DataError(f"{path.name}: row {reader.line_num}: malformed CSV ({err})") from None
    if skipped:
        log.info("skipped unmapped ACLED rows: %s", dict(skipped))
    return examples
