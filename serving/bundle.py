"""The bundle: the one contract between training and serving.

A bundle is a folder holding the exported model and everything needed to reproduce training-time
behaviour at serving time::

    bundle.json       this manifest (format version, labels in output order, thresholds, max length,
                      text prefix, base model, data hash, metrics, sha256 of every file)
    model.onnx        fp32 ONNX graph: input_ids, attention_mask (int64, [batch, seq]) -> logits [batch, labels]
    model.int8.onnx   the same with dynamically quantised int8 weights
    tokenizer.json    Hugging Face `tokenizers` file

Training writes bundles with ``write_bundle`` and serving reads them with ``read_bundle``: both sides use
this module, so they cannot drift. No torch import here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT_VERSION = 1
MANIFEST = "bundle.json"
ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
TOKENIZER = "tokenizer.json"
REQUIRED_FILES = (ONNX_FP32, ONNX_INT8, TOKENIZER)
MODEL_FILES = {"fp32": ONNX_FP32, "int8": ONNX_INT8}
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"


class BundleError(RuntimeError):
    """A bundle cannot be served; the message says what is wrong and how to fix it."""


@dataclass
class LabelInfo:
    id: str
    name: str
    color: str = "#64748b"


@dataclass
class Manifest:
    name: str
    version: str
    labels: list[LabelInfo]
    thresholds: list[float]
    max_length: int
    text_prefix: str
    base_model: str
    pooling: str
    data_sha256: str
    metrics: dict = field(default_factory=dict)
    int8_agreement: float | None = None
    # int8 when it passed export's agreement gate, else fp32; what EVENTCLF_PRECISION=auto serves on CPU.
    recommended_precision: str = "fp32"
    created_at: str = ""
    format_version: int = FORMAT_VERSION
    files: dict[str, str] = field(default_factory=dict)

    @property
    def label_ids(self) -> list[str]:
        return [label.id for label in self.labels]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        data = dict(data)
        data["labels"] = [LabelInfo(**label) for label in data["labels"]]
        return cls(**data)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_bundle(bundle_dir: str | Path, manifest: Manifest) -> Path:
    """Checksum the model files already in ``bundle_dir`` and write the manifest beside them."""
    bundle_dir = Path(bundle_dir)
    missing = [name for name in REQUIRED_FILES if not (bundle_dir / name).is_file()]
    if missing:
        raise BundleError(f"cannot write a bundle at {bundle_dir}: missing {', '.join(missing)}")
    _check_consistency(manifest, bundle_dir)
    manifest.format_version = FORMAT_VERSION
    manifest.files = {name: sha256_file(bundle_dir / name) for name in REQUIRED_FILES}
    path = bundle_dir / MANIFEST
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path


def _check_consistency(manifest: Manifest, where: Path) -> None:
    if not manifest.labels:
        raise BundleError(f"{where}: the bundle lists no labels")
    if len(manifest.thresholds) != len(manifest.labels):
        raise BundleError(
            f"{where}: {len(manifest.labels)} labels but {len(manifest.thresholds)} thresholds; re-export the model"
        )
    if len(set(manifest.label_ids)) != len(manifest.labels):
        raise BundleError(f"{where}: duplicate label ids in the bundle")


def read_bundle(bundle_dir: str | Path, verify: bool = True) -> Manifest:
    """Read and check a bundle; raises BundleError naming the problem and the fix."""
    bundle_dir = Path(bundle_dir)
    fix = "build one with `make train` (or `eventclf export`), or point EVENTCLF_BUNDLE at a bundle folder"
    if not bundle_dir.is_dir():
        raise BundleError(f"no bundle at {bundle_dir}: {fix}")
    path = bundle_dir / MANIFEST
    if not path.is_file():
        raise BundleError(f"{bundle_dir} has no {MANIFEST}: {fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{path} is not valid JSON ({err}); re-export the model") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{path} has bundle format version {version!r}, this server reads version {FORMAT_VERSION}; "
            "re-export the model with this version of eventclf (`eventclf export`)"
        )
    try:
        manifest = Manifest.from_dict(data)
    except (TypeError, KeyError) as err:
        raise BundleError(f"{path} is missing or has unexpected fields ({err}); re-export the model") from None
    _check_consistency(manifest, bundle_dir)
    if verify:
        verify_files(bundle_dir, manifest)
    return manifest


def verify_files(bundle_dir: Path, manifest: Manifest) -> None:
    for name in REQUIRED_FILES:
        file = bundle_dir / name
        if not file.is_file():
            raise BundleError(f"{file} is missing; re-export the model with `eventclf export`")
        expected = manifest.files.get(name)
        if expected is None:
            raise BundleError(f"{bundle_dir / MANIFEST} has no checksum for {name}; re-export the model")
        actual = sha256_file(file)
        if actual != expected:
            raise BundleError(
                f"{file} does not match its checksum in {MANIFEST} (expected {expected[:12]}…, got {actual[:12]}…): "
                "the file is corrupted or was replaced; re-export the model or restore the bundle"
            )
