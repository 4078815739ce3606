"""Tests for serving.segmentation: sentence spans over whole news articles in many scripts.

All example texts are written for these tests (news-style, not copied from any source).
"""

from __future__ import annotations

import math
import unicodedata

import pytest

from serving.segmentation import (
    ALWAYS_ABBREVIATIONS,
    DEFAULT_MAX_CHARS,
    INVISIBLE_SPACE_CHARS,
    NUMERIC_ABBREVIATIONS,
    SOFT_ABBREVIATIONS,
    SPACE_CHARS,
    TITLE_ABBREVIATIONS,
    SentenceSpan,
    split_sentences,
)


def _is_blank(ch: str) -> bool:
    return ch.isspace() or ch in INVISIBLE_SPACE_CHARS


def check_spans(text: str, spans: list[SentenceSpan], max_chars: int = DEFAULT_MAX_CHARS) -> None:
    """The invariants every result must satisfy."""
    previous_end = 0
    for span in spans:
        assert isinstance(span, SentenceSpan)
        assert 0 <= span.start < span.end <= len(text)
        assert span.start >= previous_end, "spans must be ordered and must not overlap"
        assert text[span.start : span.end] == span.text
        assert not _is_blank(span.text[0]) and not _is_blank(span.text[-1])
        assert len(span.text) <= max_chars
        previous_end = span.end
    covered = bytearray(len(text))
    for span in spans:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    missing = [i for i, ch in enumerate(text) if not covered[i] and not _is_blank(ch)]
    assert not missing, f"non-space characters outside every span at {missing[:5]}"


def sentences(text: str, lang: str | None = None, **kwargs: int) -> list[str]:
    spans = split_sentences(text, lang, **kwargs)
    check_spans(text, spans, kwargs.get("max_chars", DEFAULT_MAX_CHARS))
    return [span.text for span in spans]


# ---------------------------------------------------------------------------------------------
# Whole articles, one per script/language, with the boilerplate scraped pages come with
# ---------------------------------------------------------------------------------------------

EN_ARTICLE = """We use cookies to improve your experience. By continuing to browse this site, you agree to our use of cookies.
Accept
Home > World > Europe

Drone strikes hit power grid in eastern Ukraine
By Olena K. Marchuk and Tom Reyes
Published Jan. 28, 2024 14.30 GMT

A damaged substation near Kharkiv on Sunday. (Photo: AFP)

KHARKIV, Ukraine — Russian drones struck energy facilities in three regions overnight, Gov. Oleh Syniehubov said on Sunday. About 1.200 homes lost power, roughly 12.5% of the district.
The U.N. monitoring mission said it had recorded 3.5 times more strikes than in Dec. 2023. Lt. Col. J. R. Petrenko, a military spokesman, said the attacks began at 2 a.m. local time.
“We are leaving.” said the mayor. Her neighbour added: "Nobody came to help…" and shook his head.
Share this article
Do you like this article?
0 Comment(s)
"""
EN_EXPECTED = [
    "We use cookies to improve your experience.",
    "By continuing to browse this site, you agree to our use of cookies.",
    "Accept",
    "Home > World > Europe",
    "Drone strikes hit power grid in eastern Ukraine",
    "By Olena K. Marchuk and Tom Reyes",
    "Published Jan. 28, 2024 14.30 GMT",
    "A damaged substation near Kharkiv on Sunday.",
    "(Photo: AFP)",
    (
        "KHARKIV, Ukraine — Russian drones struck energy facilities in three regions overnight, "
        "Gov. Oleh Syniehubov said on Sunday."
    ),
    "About 1.200 homes lost power, roughly 12.5% of the district.",
    "The U.N. monitoring mission said it had recorded 3.5 times more strikes than in Dec. 2023.",
    "Lt. Col. J. R. Petrenko, a military spokesman, said the attacks began at 2 a.m. local time.",
    "“We are leaving.” said the mayor.",
    'Her neighbour added: "Nobody came to help…" and shook his head.',
    "Share this article",
    "Do you like this article?",
    "0 Comment(s)",
]

FR_ARTICLE = """Guerre au Soudan : au moins 40 morts dans un bombardement à El-Fasher
Par la rédaction, avec AFP
Publié le 28.01.2024 à 14h30

Au moins 40 civils ont été tués samedi dans un bombardement sur un marché d'El-Fasher, a indiqué M. Ahmed, un responsable local. « Nous avons compté les corps toute la nuit », a déclaré un secouriste. Selon l'ONU, des milliers de familles ont fui vers Tawila, Kutum, etc. Les combats se poursuivent.
Le saviez-vous ? Les Forces de soutien rapide (FSR) contrôlent l'essentiel du Darfour.
« Nous partons. » Le maire a quitté la ville vers 10 h."""
FR_EXPECTED = [
    "Guerre au Soudan : au moins 40 morts dans un bombardement à El-Fasher",
    "Par la rédaction, avec AFP",
    "Publié le 28.01.2024 à 14h30",
    (
        "Au moins 40 civils ont été tués samedi dans un bombardement sur un marché d'El-Fasher, "
        "a indiqué M. Ahmed, un responsable local."
    ),
    "« Nous avons compté les corps toute la nuit », a déclaré un secouriste.",
    "Selon l'ONU, des milliers de familles ont fui vers Tawila, Kutum, etc.",
    "Les combats se poursuivent.",
    "Le saviez-vous ?",
    "Les Forces de soutien rapide (FSR) contrôlent l'essentiel du Darfour.",
    "« Nous partons. »",
    "Le maire a quitté la ville vers 10 h.",
]

ES_ARTICLE = """Al menos 12 muertos en un ataque con drones en el norte de Malí
Redacción internacional | 28 ene. 2024

BAMAKO (EFE) — El Sr. Diallo, portavoz del Gobierno, confirmó el ataque. «Nos vamos», dijo el alcalde. ¿Qué pasará ahora? preguntó un vecino. Las autoridades de EE.UU. condenaron el ataque, según la Dra. Pérez. Unas 3.500 personas, aprox. 200 familias, huyeron a Mopti. ¡Es una tragedia!"""
ES_EXPECTED = [
    "Al menos 12 muertos en un ataque con drones en el norte de Malí",
    "Redacción internacional | 28 ene. 2024",
    "BAMAKO (EFE) — El Sr. Diallo, portavoz del Gobierno, confirmó el ataque.",
    "«Nos vamos», dijo el alcalde.",
    "¿Qué pasará ahora? preguntó un vecino.",
    "Las autoridades de EE.UU. condenaron el ataque, según la Dra. Pérez.",
    "Unas 3.500 personas, aprox. 200 familias, huyeron a Mopti.",
    "¡Es una tragedia!",
]

RU_ARTICLE = """Взрывы прогремели в Харькове ночью
Автор: Анна Петрова
28.01.2024, 14:30

В 2024 г. власти города потратили на ремонт 3,5 млрд руб. Как сообщил мэр И. Терехов, удар пришёлся по ул. Сумской. «Мы уходим», — сказал один из жителей. «Когда это закончится?» — спросила женщина. В субботу, т.е. 27 января, обстрелов не было... но ночью всё началось снова.
Поделиться
Комментарии (0)"""
RU_EXPECTED = [
    "Взрывы прогремели в Харькове ночью",
    "Автор: Анна Петрова",
    "28.01.2024, 14:30",
    "В 2024 г. власти города потратили на ремонт 3,5 млрд руб.",
    "Как сообщил мэр И. Терехов, удар пришёлся по ул. Сумской.",
    "«Мы уходим», — сказал один из жителей.",
    "«Когда это закончится?» — спросила женщина.",
    "В субботу, т.е. 27 января, обстрелов не было... но ночью всё началось снова.",
    "Поделиться",
    "Комментарии (0)",
]

UK_ARTICLE = """Сили ППО збили 20 з 24 дронів, повідомив ген. Олещук. Удар по енергетичній інфраструктурі
стався близько третьої години ночі. Про це йдеться в заяві Повітряних сил."""
UK_EXPECTED = [
    "Сили ППО збили 20 з 24 дронів, повідомив ген. Олещук.",
    "Удар по енергетичній інфраструктурі\nстався близько третьої години ночі.",
    "Про це йдеться в заяві Повітряних сил.",
]

AR_ARTICLE = """مقتل 12 مدنياً في قصف على سوق شعبي
الخرطوم - وكالات

قال المتحدث باسم الحكومة إن القصف أسفر عن مقتل 12 مدنياً، وإصابة العشرات. وأكد د. أحمد علي أن فرق الإنقاذ ما زالت تعمل. هل ستتوقف الحرب؟ لا أحد يعرف.
شارك هذا المقال"""
AR_EXPECTED = [
    "مقتل 12 مدنياً في قصف على سوق شعبي",
    "الخرطوم - وكالات",
    "قال المتحدث باسم الحكومة إن القصف أسفر عن مقتل 12 مدنياً، وإصابة العشرات.",
    "وأكد د. أحمد علي أن فرق الإنقاذ ما زالت تعمل.",
    "هل ستتوقف الحرب؟",
    "لا أحد يعرف.",
    "شارك هذا المقال",
]

FA_ARTICLE = (
    "حمله پهپادی به یک پایگاه نظامی در شرق سوریه گزارش شد. "
    "آیا این حمله پاسخی به حملات اخیر بود؟ "
    "سخنگوی وزارت خارجه، روز یکشنبه، از اظهار نظر خودداری کرد."
)
FA_EXPECTED = [
    "حمله پهپادی به یک پایگاه نظامی در شرق سوریه گزارش شد.",
    "آیا این حمله پاسخی به حملات اخیر بود؟",
    "سخنگوی وزارت خارجه، روز یکشنبه، از اظهار نظر خودداری کرد.",
]

UR_ARTICLE = "پولیس نے بتایا کہ دھماکے میں پانچ افراد ہلاک ہوئے۔ زخمیوں کو ہسپتال منتقل کر دیا گیا۔"
UR_EXPECTED = [
    "پولیس نے بتایا کہ دھماکے میں پانچ افراد ہلاک ہوئے۔",
    "زخمیوں کو ہسپتال منتقل کر دیا گیا۔",
]

HI_ARTICLE = """मणिपुर में हिंसा, 3 लोगों की मौत
पुलिस ने बताया कि गोलीबारी रात 2 बजे शुरू हुई। डॉ. शर्मा ने कहा कि घायलों की हालत स्थिर है। क्या सरकार कार्रवाई करेगी? विपक्ष ने सवाल उठाए॥ सेना ने मोर्चा संभाला | स्थिति नियंत्रण में है |"""
HI_EXPECTED = [
    "मणिपुर में हिंसा, 3 लोगों की मौत",
    "पुलिस ने बताया कि गोलीबारी रात 2 बजे शुरू हुई।",
    "डॉ. शर्मा ने कहा कि घायलों की हालत स्थिर है।",
    "क्या सरकार कार्रवाई करेगी?",
    "विपक्ष ने सवाल उठाए॥",
    "सेना ने मोर्चा संभाला |",  # '|' typed instead of the danda
    "स्थिति नियंत्रण में है |",
]

ZH_ARTICLE = """加沙停火谈判陷入僵局
联合国安理会周二召开紧急会议。中国代表表示：“我们呼吁各方保持克制。”会议何时结束？目前尚不清楚！据报道，冲突已造成3.5万人流离失所。"""
ZH_EXPECTED = [
    "加沙停火谈判陷入僵局",
    "联合国安理会周二召开紧急会议。",
    "中国代表表示：“我们呼吁各方保持克制。”",
    "会议何时结束？",
    "目前尚不清楚！",
    "据报道，冲突已造成3.5万人流离失所。",
]

MY_ARTICLE = """မန္တလေးတိုင်းတွင် တိုက်ပွဲများ ပြင်းထန်
စစ်တပ်သည် ရွာနှစ်ရွာကို လေကြောင်းဖြင့် တိုက်ခိုက်ခဲ့သည်။ ဒေသခံ ၁၂ ဦး သေဆုံးခဲ့ပြီး၊ အများအပြား ဒဏ်ရာရခဲ့သည်။"""
MY_EXPECTED = [
    "မန္တလေးတိုင်းတွင် တိုက်ပွဲများ ပြင်းထန်",
    "စစ်တပ်သည် ရွာနှစ်ရွာကို လေကြောင်းဖြင့် တိုက်ခိုက်ခဲ့သည်။",
    "ဒေသခံ ၁၂ ဦး သေဆုံးခဲ့ပြီး၊ အများအပြား ဒဏ်ရာရခဲ့သည်။",  # ၊ is a comma
]

AM_ARTICLE = """በአማራ ክልል ውጊያ ቀጥሏል
መንግሥት ዛሬ መግለጫ አውጥቷል። በግጭቱ ቢያንስ 20 ሰዎች ተገድለዋል፣ ብዙዎች ቆስለዋል። ሰላም መቼ ይመጣል፧"""
AM_EXPECTED = [
    "በአማራ ክልል ውጊያ ቀጥሏል",
    "መንግሥት ዛሬ መግለጫ አውጥቷል።",
    "በግጭቱ ቢያንስ 20 ሰዎች ተገድለዋል፣ ብዙዎች ቆስለዋል።",
    "ሰላም መቼ ይመጣል፧",
]

ARTICLES = [
    pytest.param(EN_ARTICLE, "en", EN_EXPECTED, id="english-article-with-boilerplate"),
    pytest.param(FR_ARTICLE, "fr", FR_EXPECTED, id="french-article"),
    pytest.param(ES_ARTICLE, "es", ES_EXPECTED, id="spanish-article"),
    pytest.param(RU_ARTICLE, "ru", RU_EXPECTED, id="russian-article"),
    pytest.param(UK_ARTICLE, "uk", UK_EXPECTED, id="ukrainian-hard-wrapped"),
    pytest.param(AR_ARTICLE, "ar", AR_EXPECTED, id="arabic-article"),
    pytest.param(FA_ARTICLE, "fa", FA_EXPECTED, id="persian"),
    pytest.param(UR_ARTICLE, "ur", UR_EXPECTED, id="urdu-full-stop"),
    pytest.param(HI_ARTICLE, "hi", HI_EXPECTED, id="hindi-danda"),
    pytest.param(ZH_ARTICLE, "zh", ZH_EXPECTED, id="chinese"),
    pytest.param(MY_ARTICLE, "my", MY_EXPECTED, id="burmese"),
    pytest.param(AM_ARTICLE, "am", AM_EXPECTED, id="amharic-ethiopic"),
]


@pytest.mark.parametrize("text, lang, expected", ARTICLES)
def test_article_with_lang_hint(text: str, lang: str, expected: list[str]) -> None:
    assert sentences(text, lang) == expected


@pytest.mark.parametrize("text, lang, expected", ARTICLES)
def test_article_without_lang_hint(text: str, lang: str, expected: list[str]) -> None:
    assert sentences(text) == expected


# ---------------------------------------------------------------------------------------------
# Focused behaviours
# ---------------------------------------------------------------------------------------------

CASES = [
    # abbreviations, initials, acronyms
    pytest.param(
        "Mr. Smith met Dr. Jones and Gen. Ali. They talked for an hour.",
        ["Mr. Smith met Dr. Jones and Gen. Ali.", "They talked for an hour."],
        id="titles",
    ),
    pytest.param(
        "J. R. Smith and George W. Bush arrived. В. В. Путин не приехал.",
        ["J. R. Smith and George W. Bush arrived.", "В. В. Путин не приехал."],
        id="initials-latin-cyrillic",
    ),
    pytest.param(
        "The U.N. and the U.S. met U.K. envoys in Geneva. The talks failed.",
        ["The U.N. and the U.S. met U.K. envoys in Geneva.", "The talks failed."],
        id="dotted-acronyms-inside",
    ),
    pytest.param(
        "Troops returned to the U.S. The deployment ended. The U.S. Army denied it.",
        ["Troops returned to the U.S.", "The deployment ended.", "The U.S. Army denied it."],
        id="dotted-acronym-ends-sentence-before-starter",
    ),
    pytest.param(
        "Shares of Acme Inc. fell 3%. The company declined to comment.",
        ["Shares of Acme Inc. fell 3%.", "The company declined to comment."],
        id="company-abbreviation",
    ),
    pytest.param(
        "Tanks, trucks, etc. were moved. They brought food, water, etc. The convoy left.",
        ["Tanks, trucks, etc. were moved.", "They brought food, water, etc.", "The convoy left."],
        id="etc-inside-and-at-end",
    ),
    pytest.param(
        "Sirens sounded at 5 a.m. Tuesday and again at 9 p.m. The city was quiet.",
        ["Sirens sounded at 5 a.m. Tuesday and again at 9 p.m.", "The city was quiet."],
        id="am-pm",
    ),
    pytest.param(
        "See No. 5 and Art. 12 of the accord, e.g. the annex, i.e. the map. It is clear.",
        ["See No. 5 and Art. 12 of the accord, e.g. the annex, i.e. the map.", "It is clear."],
        id="numeric-and-latin-abbreviations",
    ),
    # numbers, dates, times
    pytest.param(
        "Inflation hit 3.5 percent and 1.200 jobs went. Prices rose 12.5% in May.",
        ["Inflation hit 3.5 percent and 1.200 jobs went.", "Prices rose 12.5% in May."],
        id="decimals-and-thousands",
    ),
    pytest.param(
        "On Jan. 28 and again on 28.01.2024 at 14.30 the base was hit. Sept. 11 was quiet.",
        ["On Jan. 28 and again on 28.01.2024 at 14.30 the base was hit.", "Sept. 11 was quiet."],
        id="dates-and-times",
    ),
    pytest.param(
        "The death toll rose to 12. Officials said 2023. was the worst year.",
        ["The death toll rose to 12.", "Officials said 2023. was the worst year."],
        id="number-at-sentence-end",
    ),
    pytest.param(
        "Die 3. Armee rückte am 28. Januar vor. Laut Nr. 5 der Anordnung gilt z. B. eine "
        "Ausgangssperre usw. Die Lage bleibt angespannt.",
        [
            "Die 3. Armee rückte am 28. Januar vor.",
            "Laut Nr. 5 der Anordnung gilt z. B. eine Ausgangssperre usw.",
            "Die Lage bleibt angespannt.",
        ],
        id="german-ordinals-and-abbreviations",
    ),
    pytest.param(
        "Key points:\n1. Ukraine said 20 drones fell.\n2. Power was cut.\n",
        ["Key points:", "1. Ukraine said 20 drones fell.", "2. Power was cut."],
        id="numbered-list",
    ),
    # URLs, e-mail, ellipsis
    pytest.param(
        "Read more at https://www.example.com/news/2024/01/28/story.html or write to "
        "desk@example.org. Thanks.",
        [
            "Read more at https://www.example.com/news/2024/01/28/story.html or write to desk@example.org.",
            "Thanks.",
        ],
        id="url-and-email",
    ),
    pytest.param(
        "He waited... and then left. He waited… Nobody came.",
        ["He waited... and then left.", "He waited…", "Nobody came."],
        id="ellipsis",
    ),
    # quotes
    pytest.param(
        'He said: "We will return!" Then he left.',
        ['He said: "We will return!"', "Then he left."],
        id="closing-quote-stays",
    ),
    pytest.param(
        "“We are leaving.” said the mayor. «Мы уходим», — сказал мэр. «Когда?» — спросил он.",
        ["“We are leaving.” said the mayor.", "«Мы уходим», — сказал мэр.", "«Когда?» — спросил он."],
        id="quote-with-lowercase-attribution",
    ),
    pytest.param(
        "„Wir bleiben.“ Das sagte der Bürgermeister.",
        ["„Wir bleiben.“", "Das sagte der Bürgermeister."],
        id="german-quotes",
    ),
    pytest.param(
        "«\xa0Nous partons.\xa0» Le maire a quitté la ville. Pourquoi\u202f? Personne ne sait.",
        ["«\xa0Nous partons.\xa0»", "Le maire a quitté la ville.", "Pourquoi\u202f?", "Personne ne sait."],
        id="french-spaced-guillemets",
    ),
    pytest.param(
        "¿Qué pasará ahora? —preguntó un vecino. ¡Nadie lo sabe!",
        ["¿Qué pasará ahora? —preguntó un vecino.", "¡Nadie lo sabe!"],
        id="spanish-question-with-attribution",
    ),
    pytest.param(
        "「撤退する」と市長は述べた。住民は避難した!次は?",
        ["「撤退する」と市長は述べた。", "住民は避難した!", "次は?"],
        id="japanese-brackets-and-half-width-marks",
    ),
    # other scripts
    pytest.param(
        "Τι θα γίνει τώρα; Η κυβέρνηση δεν απάντησε. Ο κ. Παπαδόπουλος μίλησε.",
        ["Τι θα γίνει τώρα;", "Η κυβέρνηση δεν απάντησε.", "Ο κ. Παπαδόπουλος μίλησε."],
        id="greek-question-mark",
    ),
    pytest.param(
        "Ադրբեջանը հայտարարեց հրադադարի մասին։ Երևանը դեռ չի արձագանքել։",
        ["Ադրբեջանը հայտարարեց հրադադարի մասին։", "Երևանը դեռ չի արձագանքել։"],
        id="armenian-full-stop",
    ),
    pytest.param(
        "대통령은 성명을 발표했다. 군은 경계를 강화했다.",
        ["대통령은 성명을 발표했다.", "군은 경계를 강화했다."],
        id="korean",
    ),
    pytest.param("增长了３．５％。", ["增长了３．５％。"], id="full-width-decimal-point"),
    # line structure
    pytest.param(
        "The ministry said the strikes hit\ninfrastructure in three regions.\nRepairs will take weeks.",
        ["The ministry said the strikes hit\ninfrastructure in three regions.", "Repairs will take weeks."],
        id="hard-wrapped-lowercase-continuation",
    ),
    pytest.param(
        "The convoy reached Kherson,\nMykolaiv and Odesa.",
        ["The convoy reached Kherson,\nMykolaiv and Odesa."],
        id="line-ending-in-comma-continues",
    ),
    pytest.param(
        "Breaking news\n\nmore details follow",
        ["Breaking news", "more details follow"],
        id="blank-line-always-splits",
    ),
    pytest.param(
        "Ceasefire collapses\r\nFighting resumed at dawn.\r\n",
        ["Ceasefire collapses", "Fighting resumed at dawn."],
        id="crlf-headline",
    ),
    pytest.param("First part\u2029second part", ["First part", "second part"], id="paragraph-separator"),
    pytest.param(
        "Gunmen attacked a checkpoint on Sunday.\nPhoto: Reuters/Ali Hassan\n\nRelated: Five things to know",
        [
            "Gunmen attacked a checkpoint on Sunday.",
            "Photo: Reuters/Ali Hassan",
            "Related: Five things to know",
        ],
        id="caption-and-related-link",
    ),
    pytest.param(
        "\u200b\ufeffStrikes continue\n\u200b\nCivilians flee.",
        ["Strikes continue", "Civilians flee."],
        id="zero-width-spaces-are-not-sentences",
    ),
    # robustness
    pytest.param(
        "Shelling\x00 continued. Civilians\x07 fled.",
        ["Shelling\x00 continued.", "Civilians\x07 fled."],
        id="control-characters",
    ),
    pytest.param(
        "Missile\ud800 hit. Power\udfff cut.",
        ["Missile\ud800 hit.", "Power\udfff cut."],
        id="lone-surrogates",
    ),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_cases(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


ABBREVIATION_PHRASES = [
    "Mr. Smith",
    "Mrs. Jones",
    "Dr. Okafor",
    "Gen. Ali",
    "Col. Reyes",
    "Lt. Brown",
    "Sgt. Kowalski",
    "Capt. Ortiz",
    "Gov. Hochul",
    "Sen. Warren",
    "Rep. Cheney",
    "Prof. Kim",
    "St. Petersburg",
    "Mt. Kenya",
    "No. 10",
    "Chelsea vs. Arsenal",
    "approx. 300 people",
    "Jan. 5",
    "Feb. 6",
    "Mar. 7",
    "Apr. 8",
    "Jun. 9",
    "Jul. 10",
    "Aug. 11",
    "Sep. 12",
    "Sept. 13",
    "Oct. 14",
    "Nov. 15",
    "Dec. 16",
    "5 a.m. Tuesday",
    "9 p.m. Moscow time",
    "Acme Inc. Chief Executive Jo Lee",
    "Samsung Co. Ltd. staff",
    "M. Macron",
    "Mme. Dupont",
    "Sr. García",
    "Sra. López",
    "Dra. Ruiz",
    "z.B. Berlin",
    "e.g. Kyiv",
    "i.e. Kherson",
]
RU_ABBREVIATION_PHRASES = ["г. Москва", "ул. Ленина", "т.е. Москву", "им. Пушкина", "ст. 12"]


@pytest.mark.parametrize("phrase", ABBREVIATION_PHRASES)
def test_abbreviation_does_not_split(phrase: str) -> None:
    text = f"Reporters saw {phrase} there. Nothing else happened."
    assert sentences(text) == [f"Reporters saw {phrase} there.", "Nothing else happened."]


@pytest.mark.parametrize("phrase", RU_ABBREVIATION_PHRASES)
def test_russian_abbreviation_does_not_split(phrase: str) -> None:
    text = f"Журналисты видели {phrase} там. Больше ничего не произошло."
    assert sentences(text) == [f"Журналисты видели {phrase} там.", "Больше ничего не произошло."]


def test_abbreviation_tables_are_lowercase_constants() -> None:
    for table in (TITLE_ABBREVIATIONS, ALWAYS_ABBREVIATIONS, SOFT_ABBREVIATIONS, NUMERIC_ABBREVIATIONS):
        for words in table.values():
            assert all(w == w.lower() and not w.endswith(".") for w in words)


@pytest.mark.parametrize(
    "text, lang, expected",
    [
        pytest.param(
            "Er kam 12. Die Lage ist ruhig.", None, ["Er kam 12.", "Die Lage ist ruhig."], id="no-hint"
        ),
        pytest.param(
            "Er kam 12. Die Lage ist ruhig.", "de", ["Er kam 12. Die Lage ist ruhig."], id="de-ordinal"
        ),
        pytest.param(
            "Er kam 12. Die Lage ist ruhig.", "de-AT", ["Er kam 12. Die Lage ist ruhig."], id="de-AT"
        ),
        pytest.param(
            "Πόσοι ήταν 12; Κανείς δεν ξέρει.", None, ["Πόσοι ήταν 12; Κανείς δεν ξέρει."], id="el-no-hint"
        ),
        pytest.param(
            "Πόσοι ήταν 12; Κανείς δεν ξέρει.", "el", ["Πόσοι ήταν 12;", "Κανείς δεν ξέρει."], id="el"
        ),
        pytest.param("Then it ended. Calm.", "not a language", ["Then it ended.", "Calm."], id="junk-hint"),
    ],
)
def test_lang_hint(text: str, lang: str | None, expected: list[str]) -> None:
    assert sentences(text, lang) == expected


# ---------------------------------------------------------------------------------------------
# Empty input, max_chars, large input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n\n\t ", "\u3000\xa0\u2029", "\u200b\ufeff\u2060"],
    ids=["empty", "space", "newlines-tabs", "unicode-spaces", "zero-width"],
)
def test_blank_input_gives_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


def test_space_chars_match_str_isspace() -> None:
    unicode_spaces = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(SPACE_CHARS) == unicode_spaces | set(INVISIBLE_SPACE_CHARS)


def test_max_chars_cuts_at_whitespace() -> None:
    text = "Artillery fire continued along the front " * 40  # no terminal punctuation
    spans = split_sentences(text, max_chars=100)
    check_spans(text, spans, 100)
    assert len(spans) > 1
    words = set(text.split())
    for span in spans:
        assert set(span.text.split()) <= words  # no word was cut in half


@pytest.mark.parametrize(
    "text, max_chars, lengths",
    [
        pytest.param("漢" * 250, 100, [100, 100, 50], id="cjk-exact"),
        pytest.param("x" * 10, 3, [3, 3, 3, 1], id="no-space-latin"),
        pytest.param("ab cd", 1, [1, 1, 1, 1], id="max-chars-1"),
    ],
)
def test_max_chars_without_spaces(text: str, max_chars: int, lengths: list[int]) -> None:
    spans = split_sentences(text, max_chars=max_chars)
    check_spans(text, spans, max_chars)
    assert [len(s.text) for s in spans] == lengths


def test_max_chars_prefers_cjk_comma() -> None:
    text = "冲突持续" * 20 + "，" + "平民撤离" * 20
    spans = split_sentences(text, max_chars=100)
    check_spans(text, spans, 100)
    assert spans[0].text.endswith("，")


def test_max_chars_does_not_separate_combining_marks() -> None:
    text = "သေဆုံးခဲ့ပြီး" * 40  # Burmese without spaces, many combining marks
    spans = split_sentences(text, max_chars=50)
    check_spans(text, spans, 50)
    assert all(not unicodedata.category(s.text[0]).startswith("M") for s in spans)


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_sentences("Text.", max_chars=0)


def test_non_str_input_is_rejected() -> None:
    with pytest.raises(TypeError):
        split_sentences(b"bytes")  # type: ignore[arg-type]


def test_one_megabyte_article() -> None:
    repeats = math.ceil(1_000_000 / len(EN_ARTICLE))
    text = "\n\n".join([EN_ARTICLE] * repeats)
    assert len(text) >= 1_000_000
    spans = split_sentences(text)
    assert len(spans) == len(EN_EXPECTED) * repeats
    assert [s.text for s in spans] == EN_EXPECTED * repeats
    check_spans(text, spans)
    # Offsets of the last copy are the offsets of the first, shifted by the copy's position.
    shift = (len(EN_ARTICLE) + 2) * (repeats - 1)
    first, last = spans[: len(EN_EXPECTED)], spans[-len(EN_EXPECTED) :]
    assert [(s.start + shift, s.end + shift) for s in first] == [(s.start, s.end) for s in last]


@pytest.mark.parametrize(
    "unit",
    [". ", "a. ", "U.S. ", "x", "word ", "\n", "。", '."', "a.b", "«» "],
    ids=[
        "dots",
        "letters",
        "acronyms",
        "one-char",
        "words",
        "newlines",
        "cjk-stops",
        "quotes",
        "dotted",
        "guillemets",
    ],
)
def test_one_megabyte_pathological(unit: str) -> None:
    text = unit * (1_000_000 // len(unit))
    spans = split_sentences(text)
    check_spans(text, spans)
    if unit in ("x", "。"):  # one unbroken run: cut into max_chars pieces
        assert [len(s.text) for s in spans] == [DEFAULT_MAX_CHARS] * 1000


@pytest.mark.parametrize(
    "text",
    [
        ".",
        "...",
        "。",
        "\n.\n",
        "»",
        " » ",
        "«",
        "\x00" * 10,
        "\ud800",
        ";",
        ":",
        "|",
        "ա:",
        "क|",
        "ε;",
        ". . .",
        "“”",
        "Mr.",
        "U.S.",
        "1.",
        "\r",
        "\r\n\r\n",
        "a\u0301.",
        "\x1c\x1d\x1e\x1f",
    ],
)
def test_odd_inputs_never_raise(text: str) -> None:
    for lang in (None, "en", "de", "el", "xx"):
        for max_chars in (1, 2, DEFAULT_MAX_CHARS):
            sentences(text, lang, max_chars=max_chars)


def test_property_arbitrary_text() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    interesting = st.sampled_from(
        list(".!?…;:|,。！？．؟۔।॥။၊።፧։\"'“”«»„「」()- \n\r\t\xa0\u2029\u200b\ufeff\x00")
        + list("aZéЖжαΩ1٣漢ابကअ")
        + ["Mr.", "U.S.", "e.g.", "3.5", "etc.", "Jan.", "12.", "http://a.b/c."]
    )
    text_strategy = st.one_of(st.text(), st.lists(interesting, max_size=60).map("".join))

    @hypothesis.settings(max_examples=400, deadline=None)
    @hypothesis.given(
        text=text_strategy,
        max_chars=st.one_of(st.just(DEFAULT_MAX_CHARS), st.integers(1, 40)),
        lang=st.sampled_from([None, "en", "de", "el", "ru", "zz"]),
    )
    def check(text: str, max_chars: int, lang: str | None) -> None:
        check_spans(text, split_sentences(text, lang, max_chars=max_chars), max_chars)

    check()
