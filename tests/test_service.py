"""The HTTP API: in-process through BentoML's ASGI app, and against the real server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from live_server import get, live_server
from starlette.testclient import TestClient

from serving.engine import Engine


@pytest.fixture(scope="module")
def client(tiny_bundle, monkeypatch_module):
    monkeypatch_module.setenv("EVENTCLF_BUNDLE", str(tiny_bundle))
    monkeypatch_module.setenv("EVENTCLF_MAX_SENTENCES", "20")
    monkeypatch_module.setenv("EVENTCLF_MAX_DOCUMENT_SENTENCES", "50")
    from serving.service import EventClassifier

    with TestClient(EventClassifier.to_asgi()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_classify_answers_each_sentence_in_order(client, tiny_bundle):
    sentences = ["Warplanes struck the market in the north.", "Dock workers walked out over pay.", "Goal!"]
    response = client.post("/classify", json={"sentences": sentences})
    assert response.status_code == 200, response.text
    body = response.json()
    engine = Engine(tiny_bundle)
    assert body["model"] == engine.name and body["version"] == engine.version
    expected = engine.classify(sentences)
    assert [r["labels"] for r in body["results"]] == [r.labels for r in expected]
    assert [r["scores"] for r in body["results"]] == [pytest.approx(r.scores, abs=1e-6) for r in expected]


@pytest.mark.parametrize("payload, status, pattern", [
    ({"sentences": []}, 422, "empty"),
    ({"sentences": ["  ", "ok"]}, 422, "whitespace"),
    ({"sentences": ["x"] * 21}, 413, "limit is 20"),
    ({"sentences": "not a list"}, 400, "validation error"),
    ({"sentences": [1, 2]}, 400, "validation error"),
    ({}, 400, "validation error"),
], ids=["empty-list", "blank-sentence", "too-many", "string-not-list", "numbers", "missing-field"])
def test_bad_input_gets_a_json_4xx_and_the_service_keeps_serving(client, payload, status, pattern):
    response = client.post("/classify", json=payload)
    assert response.status_code == status, response.text
    assert re.search(pattern, response.json()["error"])
    assert client.post("/classify", json={"sentences": ["still serving"]}).status_code == 200


def test_info_describes_model_and_limits(client, tiny_bundle):
    info = client.post("/info").json()
    assert len(info["labels"]) == len(info["thresholds"]) == 10
    assert info["precision"] == Engine(tiny_bundle).manifest.recommended_precision
    assert info["device"] == "cpu"
    assert info["limits"]["max_sentences"] == 20


def test_real_server_batches_concurrent_requests_and_answers_each_its_own(tiny_bundle, dev_texts):
    # fp32: int8 dynamic quantisation scales activations per batch, so int8 scores move by ~1e-4 with
    # the batch's other sentences; fp32 answers are independent of batching, so content can be compared.
    engine = Engine(tiny_bundle, precision="fp32")
    requests_sentences = [dev_texts[i * 3 : i * 3 + 3] for i in range(48)]
    with live_server(tiny_bundle, EVENTCLF_MAX_LATENCY_MS="5000", EVENTCLF_PRECISION="fp32") as (base, _):
        assert get(base + "/readyz")[0] == 200
        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(
                lambda s: requests.post(base + "/classify", json={"sentences": s}, timeout=60), requests_sentences))
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
        for sentences, response in zip(requests_sentences, responses):
            expected = engine.classify(sentences)
            got = response.json()["results"]
            assert [r["labels"] for r in got] == [r.labels for r in expected]
            assert [r["scores"] for r in got] == [pytest.approx(r.scores, abs=1e-4) for r in expected]
        metrics = get(base + "/metrics")[1].decode()
        # Some model call must have carried more sentences than one request holds (3).
        sums = {m.group(1): float(m.group(2)) for m in
                re.finditer(r'eventclf_batch_sentences_bucket\{[^}]*le="([\d.+Inf]+)"[^}]*\} ([\d.]+)', metrics)}
        assert sums, metrics[:2000]
        assert sums.get("2.0", 0) < sums["+Inf"], "no batch larger than 2 sentences was formed"
        bad = requests.post(base + "/classify", data=b"{not json", headers={"Content-Type": "application/json"})
        assert 400 <= bad.status_code < 500 and "error" in json.loads(bad.text or "{}") | {"error": 1}
        assert requests.post(base + "/classify", json={"sentences": ["ok"]}).status_code == 200


def test_classify_document_segments_and_summarises(client):
    text = ("Rebels attack garrison town\n\nHeavy fighting broke out near the airport on Monday. "
            "Thousands of residents fled south, officials said.\n\nShare this article")
    response = client.post("/classify_document", json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sentences"][0]["text"] == "Rebels attack garrison town"
    assert len(body["sentences"]) == 4
    for sentence in body["sentences"]:
        assert text[sentence["start"]:sentence["end"]] == sentence["text"]
    for item in body["summary"]:
        assert item["sentences"] == sum(item["label"] in s["labels"] for s in body["sentences"])
        assert body["sentences"][item["evidence_index"]]["text"] == item["evidence"]


def test_document_over_the_limit_gets_413(client):
    response = client.post("/classify_document", json={"text": "word " * 50_000})
    assert response.status_code == 413 and "EVENTCLF_MAX_DOCUMENT_CHARS" in response.json()["error"]


def test_ui_page_is_served(client):
    response = client.get("/ui/")
    assert response.status_code == 200 and "<html" in response.text


def test_document_with_too_many_sentences_gets_413(client):
    text = " ".join(f"Clashes were reported in district {i}." for i in range(60))
    response = client.post("/classify_document", json={"text": text})
    assert response.status_code == 413 and "EVENTCLF_MAX_DOCUMENT_SENTENCES" in response.json()["error"]
