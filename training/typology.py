"""Load data/typology.yaml: the labels (in model output order), their definitions and the ACLED mapping."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from serving.bundle import LabelInfo

TYPOLOGY_FILE = "typology.yaml"


@dataclass
class Typology:
    labels: list[LabelInfo]
    definitions: dict[str, str]
    hard_cases: dict[str, str]
    acled_map: dict[str, list[str]]
    acled_unmapped: dict[str, str]
    acled_not_coded: list[str]

    @property
    def label_ids(self) -> list[str]:
        return [label.id for label in self.labels]


def load_typology(data_dir: str | Path) -> Typology:
    path = Path(data_dir) / TYPOLOGY_FILE
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    labels = [LabelInfo(id=item["id"], name=item["name"], color=item.get("color", "#64748b"))
              for item in raw["labels"]]
    ids = [label.id for label in labels]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate label ids")
    acled = raw.get("acled", {})
    acled_map = {k: list(v) for k, v in acled.get("sub_event_types", {}).items()}
    for sub_event, mapped in acled_map.items():
        unknown = set(mapped) - set(ids)
        if unknown:
            raise ValueError(f"{path}: ACLED sub-event type {sub_event!r} maps to unknown labels {sorted(unknown)}")
    return Typology(
        labels=labels,
        definitions={item["id"]: " ".join(item.get("definition", "").split()) for item in raw["labels"]},
        hard_cases=dict(raw.get("hard_cases", {})),
        acled_map=acled_map,
        acled_unmapped=dict(acled.get("unmapped", {})),
        acled_not_coded=list(acled.get("not_coded", [])),
    )
