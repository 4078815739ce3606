"""The dataset: the files in data/ validate, the split is stable, duplicates are caught; ACLED import."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from training.acled import read_acled
from training.data import (
    DataError,
    Example,
    load_sentences,
    near_duplicates,
    oversample,
    parse_language_weights,
    split_examples,
    split_of,
)
from training.typology import load_typology

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def typology(data_dir):
    return load_typology(data_dir)


def test_typology_is_the_single_label_list(typology):
    assert typology.label_ids == ["battle", "airstrike", "shelling", "explosive_device", "attack_on_civilians",
                                  "attack_on_medical_facility", "displacement", "protest", "riot",
                                  "strategic_development"]


def test_every_acled_sub_event_type_is_mapped_or_explained(typology):
    covered = set(typology.acled_map) | set(typology.acled_unmapped)
    assert len(covered) == 25 and not set(typology.acled_map) & set(typology.acled_unmapped)
    assert all(reason.strip() for reason in typology.acled_unmapped.values())


def test_shipped_data_validates(data_dir, typology):
    examples = load_sentences(data_dir, typology)
    assert len(examples) >= 1000
    counts = Counter(label for e in examples for label in e.labels)
    assert set(counts) == set(typology.label_ids)


def test_shipped_data_meets_the_dataset_contract(data_dir, typology):
    """The coverage promised in data/DATASET.md: size, languages, balance, label-free share, multi-label."""
    examples = load_sentences(data_dir, typology)
    langs = Counter(e.lang for e in examples)
    assert len(examples) >= 6000 and len(langs) >= 15
    assert langs.most_common(1)[0][0] == "en" and langs["en"] < len(examples) / 2
    positives = Counter(label for e in examples for label in e.labels)
    languages_of = {label: {e.lang for e in examples if label in e.labels} for label in typology.label_ids}
    for label in typology.label_ids:
        assert positives[label] >= 300, label
        assert len(languages_of[label]) >= 10, label
    empty = [e for e in examples if not e.labels]
    assert 0.25 <= len(empty) / len(examples) <= 0.35
    assert sum(1 for e in empty if e.hard_case) > len(empty) / 2  # most label-free sentences are hard negatives
    assert sum(1 for e in examples if len(e.labels) > 1) / len(examples) >= 0.15


def test_split_is_a_stable_function_of_the_text():
    assert split_of("Rebels shelled the town.", 20) == split_of("  rebels   SHELLED the town. ", 20)
    share = sum(split_of(f"sentence number {i}", 20) == "dev" for i in range(5000)) / 5000
    assert 0.17 < share < 0.23


def _write(tmp_path, data_dir, lines):
    shutil.copy(data_dir / "typology.yaml", tmp_path / "typology.yaml")
    (tmp_path / "sentences").mkdir()
    (tmp_path / "sentences" / "xx.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("line, message", [
    ('{"text": "ok", "labels": ["bombing"], "lang": "en"}', "unknown label"),
    ('{"text": "", "labels": [], "lang": "en"}', "'text' must be a non-empty string"),
    ('{"text": "ok", "labels": [], "lang": "English"}', "'lang'"),
    ('{"text": "ok", "labels": [], "lang": "en", "extra": 1}', "unknown field"),
    ('{"text": "ok", "labels": [], "lang": "en", "hard_case": "nonsense"}', "unknown hard_case"),
    ('{"text": "ok", "labels": []', "not valid JSON"),
])
def test_malformed_lines_are_reported_with_file_and_line(tmp_path, data_dir, typology, line, message):
    good = '{"text": "Fine sentence.", "labels": [], "lang": "en"}'
    folder = _write(tmp_path, data_dir, [good, line])
    with pytest.raises(DataError, match=rf"xx.jsonl:2: .*{message}"):
        load_sentences(folder, typology)


def test_exact_duplicates_are_dropped(tmp_path, data_dir, typology):
    rows = [json.dumps({"text": t, "labels": [], "lang": "en"}) for t in ("Same text.", "same   TEXT.", "Other.")]
    assert [e.text for e in load_sentences(_write(tmp_path, data_dir, rows), typology)] == ["Same text.", "Other."]


def test_oversampling_repeats_only_the_weighted_languages():
    examples = [Example(f"ha {i}", [], "ha") for i in range(10)] + [Example(f"en {i}", [], "en") for i in range(7)]
    rows = oversample(examples, parse_language_weights("ha=2.5"), seed=1)
    by_text = Counter(e.text for e in rows)
    assert sum(by_text[f"ha {i}"] for i in range(10)) == 25  # each twice, a seeded half three times
    assert {by_text[f"ha {i}"] for i in range(10)} == {2, 3}
    assert all(by_text[f"en {i}"] == 1 for i in range(7))
    assert rows == oversample(examples, {"ha": 2.5}, seed=1)
    assert oversample(examples, {}, seed=1) == examples


@pytest.mark.parametrize("spec", ["ha", "ha=0.5", "=2", "ha=x", "ha=1.5,so"])
def test_bad_oversampling_flag_names_the_part(spec):
    with pytest.raises(ValueError, match="language=weight"):
        parse_language_weights(spec)


def test_near_duplicates_across_splits_are_found():
    train = [Example("Gunmen killed twelve villagers in Kombo on Sunday night, officials said.", [], "en")]
    dev = [Example("Gunmen killed 40 villagers in Kombo on Sunday night, officials said.", [], "en"),
           Example("The central bank left its key rate unchanged.", [], "en")]
    pairs = near_duplicates(train, dev)
    assert [p[0] for p in pairs] == [dev[0].text]


def test_shipped_dev_set_has_no_near_duplicate_in_train(data_dir, typology):
    train, dev = split_examples(load_sentences(data_dir, typology), 20)
    pairs = near_duplicates(train, dev, threshold=0.8)
    assert not pairs, pairs[:5]


def test_acled_rows_map_through_the_typology(typology):
    examples = read_acled(FIXTURES / "acled_sample.csv", typology)
    assert [e.labels for e in examples] == [["battle"], ["airstrike"], ["protest"], ["strategic_development"],
                                            ["riot"]]  # the chemical-weapon row is unmapped and skipped
    masked = {label for label, known in zip(typology.label_ids, examples[0].label_mask) if not known}
    assert masked == {"attack_on_medical_facility", "displacement"}


def test_malformed_acled_file_names_row_and_column(tmp_path, typology):
    rows = (FIXTURES / "acled_sample.csv").read_text().splitlines()
    rows[3] = rows[3].replace("Peaceful protest", "Peaceful protestt")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(rows))
    with pytest.raises(DataError, match=r"row 4, column sub_event_type: unknown value 'Peaceful protestt'"):
        read_acled(bad, typology)
    missing = tmp_path / "missing.csv"
    missing.write_text(rows[0].replace("notes", "comments") + "\n" + rows[1])
    with pytest.raises(DataError, match="missing column.*notes"):
        read_acled(missing, typology)
