"""Write models/<name>/README.md: what the model is, how it was trained, how well it does, where it fails."""

from __future__ import annotations

from pathlib import Path

from training.typology import Typology


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


EXPERIMENTS_DOC = Path(__file__).resolve().parent.parent / "docs" / "experiments.md"


def experiments_section() -> str:
    """The recipe experiments behind the defaults (docs/experiments.md is their one record)."""
    if not EXPERIMENTS_DOC.is_file():
        return ""
    body = EXPERIMENTS_DOC.read_text(encoding="utf-8").split("\n", 1)[1].strip()  # drop the title line
    return f"## Recipe experiments (from docs/experiments.md)\n{body}\n"


def write_model_card(out_dir: Path, summary: dict, metrics: dict, typology: Typology) -> Path:
    tuned = metrics["tuned_thresholds"]
    honest = metrics.get("cross_fitted_thresholds", tuned)
    half = metrics["threshold_0.5"]
    cfg = summary["config"]
    shrinkage = metrics.get("threshold_shrinkage", 0.0)
    thresholds = dict(zip(typology.label_ids, (round(t, 4) for t in summary["thresholds"])))
    label_rows = [[label, v["support"], v["precision"], v["recall"], v["f1"], tuned["per_label"][label]["f1"],
                   half["per_label"][label]["f1"], thresholds[label]] for label, v in honest["per_label"].items()]
    lang_rows = [[lang, v["n"], v["micro_f1"], v["macro_f1"]] for lang, v in honest["per_language"].items()]
    case_rows = [[case, v["n"], v["false_positive_rate"]] for case, v in honest["hard_cases"].items()]
    text = f"""# Model card: {summary['name']}

Multi-label conflict-event classifier over the typology in data/typology.yaml: one sigmoid per label,
each with its own threshold tuned on the dev split and moved {shrinkage:.0%} of the way back to 0.5 (a
small dev split overfits tuned thresholds). A sentence may carry several labels or none.

## Training
- Base model: `{cfg['base_model']}`; pooling: {cfg['pooling']}; text prefix: {summary.get('text_prefix', cfg['text_prefix'])!r};
  word embeddings frozen: {cfg['freeze_embeddings']}; class weighting: {cfg['class_weighting']}.
- {summary['train_sentences']} training sentences in {len(summary['train_languages'])} languages
  ({', '.join(summary['train_languages'])}); {summary['dev_sentences']} dev sentences. Data sha256
  `{summary['data_sha256'][:16]}…`.
- {cfg['epochs']} epochs, batch {cfg['batch_size']}, learning rate {cfg['learning_rate']} (head
  {cfg['head_learning_rate']}), max length {cfg['max_length']}, seed {cfg['seed']}; final training loss
  {summary['training_loss']}; {summary['train_seconds']} s on {summary['device']} ({summary.get('precision', 'fp32')} compute) with
  {summary['torch_threads']} threads.
- Reproduce: `eventclf train --name {summary['name']}` with the same data and flags.

## Dev results
The shipped per-label thresholds are tuned on the whole dev split, so scoring them on it flatters the
model. The figures below are **cross-fitted**: each half of dev is scored at thresholds tuned (and
shrunk the same way) on the other half. Micro-F1 **{honest['micro_f1']}**, macro-F1 **{honest['macro_f1']}**, exact match
{honest['exact_match']} (shipped thresholds on all of dev: micro {tuned['micro_f1']}, macro
{tuned['macro_f1']}; a flat 0.5: micro {half['micro_f1']}, macro {half['macro_f1']}).

{_table(['label', 'dev support', 'precision', 'recall', 'F1 (cross-fitted)', 'F1 (shipped thresholds)', 'F1 @0.5', 'threshold'], label_rows)}

### Per language (cross-fitted)
{_table(['language', 'dev sentences', 'micro-F1', 'macro-F1'], lang_rows)}

### Hard cases (cross-fitted; share of such sentences given a label they should not carry)
{_table(['hard case', 'dev sentences', 'false-positive rate'], case_rows) if case_rows else 'No hard-case sentences in dev.'}

{experiments_section()}
## Intended use and limits
For analysts triaging news at scale: it flags sentences for a human to code, it does not replace coding.
It sees one sentence at a time, so an event described across sentences may be missed, and it has not
been evaluated on languages absent from the training data beyond the zero-shot figures in
docs/experiments.md. The training sentences are original and invented; real reporting is messier.
"""
    path = out_dir / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
