"""Text normalisation shared by the lexicon, the qualifiers and the fact parsers.

Patients write the way they text: no accents, SMS spellings ("jai mal o ventre"), elisions,
contractions ("can't"), stretched letters ("malllll"). Every piece of text the engine looks at
(patient messages *and* the terms in the YAML files) goes through the same `tokenize()`, so a
term written naturally by a clinician ("mal à l'estomac") matches however the patient spells it.
The token list is also what the qualifier pipelines see, so positions line up without any
character-offset bookkeeping.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Contractions and elisions are rewritten before splitting so that the negation in "can't",
# "don't", "n'ai" survives as a token of its own ("not", "ne").
_EN_CONTRACTIONS = [
    (re.compile(r"\bcan['’]?t\b"), "cannot"),
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\b(\w+)n['’]t\b"), r"\1 not"),
    (re.compile(r"\bi['’]m\b"), "i am"),
    (re.compile(r"\b(he|she|it|that|there|what)['’]s\b"), r"\1 is"),
    (re.compile(r"\b(\w+)['’]ve\b"), r"\1 have"),
    (re.compile(r"\b(\w+)['’]re\b"), r"\1 are"),
    (re.compile(r"\b(\w+)['’]ll\b"), r"\1 will"),
    (re.compile(r"\b(i|you|he|she|we|they)['’]d\b"), r"\1 would"),
]
# French elisions: j' n' l' d' m' t' s' c' qu' become the full word, so "je n'ai pas" and
# "je ne ai pas" look the same to the negation cues.
_FR_ELISION = re.compile(r"\b(qu|[jnldmtsc])['’]\s*")
_ELIDED = {"qu": "que", "j": "je", "n": "ne", "l": "le", "d": "de", "m": "me", "t": "te", "s": "se", "c": "ce"}

# One token = a number (with decimal comma or point), a word, or one punctuation sign.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+|\d+|[^\w\s]", re.UNICODE)
_STRETCH = re.compile(r"(\w)\1{2,}")

# SMS and lay spellings that are whole tokens. Kept here (not in YAML) because they are
# spelling, not clinical content; clinicians never need to review them.
SMS: dict[str, str] = {
    # French
    "jai": "je ai", "jsuis": "je suis", "jsui": "je suis", "chui": "je suis", "chuis": "je suis",
    "jpeux": "je peux", "jpe": "je peux", "jarrive": "je arrive", "jme": "je me", "jvais": "je vais",
    "jsais": "je sais", "g": "je ai", "pa": "pas", "o": "au", "ds": "dans", "ke": "que", "k": "que",
    "koi": "quoi", "bcp": "beaucoup", "bcq": "beaucoup", "tt": "tout", "tjs": "toujours", "tjrs": "toujours",
    "mm": "meme", "pr": "pour", "pk": "pourquoi", "pq": "pourquoi", "dpuis": "depuis", "depui": "depuis", "dp": "depuis",
    "mnt": "maintenant", "mtn": "maintenant", "auj": "aujourd hui", "ajd": "aujourd hui",
    "ajrd": "aujourd hui", "aujourdhui": "aujourd hui", "ya": "il y a", "yen": "il y en",
    "yavait": "il y avait", "svp": "s il vous plait", "stp": "s il te plait", "vs": "vous",
    "ns": "nous", "qd": "quand", "qq": "quelque", "qqn": "quelqu un", "ct": "ce etait",
    "cetait": "ce etait", "cest": "ce est", "jen": "je en", "jy": "je y", "jeai": "je ai",
    "nai": "ne ai", "narrive": "ne arrive", "arive": "arrive", "hiere": "hier",
    "tro": "trop", "oci": "aussi", "osi": "aussi", "boku": "beaucoup", "bocoup": "beaucoup",
    "kan": "quand", "pcq": "parce que", "pck": "parce que", "paske": "parce que", "psk": "parce que",
    "oqp": "occupe", "bb": "bebe", "gorje": "gorge", "vontre": "ventre",
    # Elided words typed without apostrophe ("j ai", "l estomac", "d air") and in the YAML terms.
    "j": "je", "l": "le", "d": "de", "n": "ne", "s": "se", "m": "me", "t": "te", "c": "ce", "qu": "que",
    # English
    "cant": "cannot", "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not",
    "wont": "will not", "havent": "have not", "hasnt": "has not", "aint": "am not", "im": "i am",
    "ive": "i have", "ur": "your", "u": "you", "r": "are", "pls": "please", "plz": "please",
    "bc": "because", "cuz": "because", "coz": "because", "abt": "about", "w": "with",
    "wo": "without", "thx": "thanks", "rn": "right now", "asap": "as soon as possible",
    "yr": "year", "yrs": "years", "yo": "years old", "mo": "months", "mos": "months",
    "wk": "week", "wks": "weeks", "hr": "hour", "hrs": "hours", "min": "minutes", "mins": "minutes",
    "bf": "boyfriend", "gf": "girlfriend", "ppl": "people",
    # More French SMS spellings seen in patients' messages ("elle respire pa", "il respire plu",
    # "il é tt bleu", "mon bb", "jsp koi faire").
    "plu": "plus", "e": "est", "ki": "qui", "kel": "quel", "kelle": "quelle", "jsp": "je sais pas",
    "chai": "je sais", "chais": "je sais", "ptit": "petit", "ptite": "petite", "tte": "toute",
    "ttes": "toutes", "bcoup": "beaucoup", "tjr": "toujours", "svpl": "s il vous plait", "pe": "peut",
    "ac": "avec", "ss": "sans", "dla": "de la", "jcrois": "je crois", "jpense": "je pense",
    "slt": "", "wesh": "", "mdr": "", "ptn": "",
    "idk": "i do not know", "dunno": "do not know", "hes": "he is", "shes": "she is",
    "thats": "that is", "whats": "what is", "theres": "there is",
    "jarive": "je arrive", "jariv": "je arrive", "fai": "fait", "fe": "fait", "ri1": "rien",
    "meuf": "femme", "keum": "homme", "truk": "truc", "pri": "pris", "dan": "dans",
    "mek": "homme", "tmp": "temps", "pike": "pique", "pikee": "piquee", "jveu": "je veux", "wud": "would", "b": "be", "v": "very", "jvoudrai": "je voudrais", "jvoudrais": "je voudrais", "jveux": "je veux",
}
# Signs that join two symptoms in SMS style ("douleur thoracique + transpi").
_JOINERS = {"+": "et", "&": "et"}
# Apostrophes and quotes left over after elisions carry no meaning; hyphens join words that
# patients write with or without them ("grand-père", "non-blanching", "2-month-old").
_DROPPED = {"'", '"', "«", "»", "“", "”", "-", "–", "—", "*", "_"}


def strip_accents(text: str) -> str:
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Invisible characters inside a word ("dou\u200bleur") are deleted, not turned into spaces:
# a space would split the word and hide the symptom. Zero-width space, non-joiner, joiner, word
# joiner, soft hyphen, byte-order mark, and the other format characters (Unicode category Cf).
def strip_invisible(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _prepare(text: str) -> str:
    # A line break ends a sentence for the qualifiers (a list of symptoms, one per line).
    text = strip_invisible(text).lower().replace("’", "'").replace("`", "'").replace("\n", " . ")
    for pattern, repl in _EN_CONTRACTIONS:
        text = pattern.sub(repl, text)
    text = _FR_ELISION.sub(lambda m: _ELIDED[m.group(1)] + " ", text)
    text = strip_accents(text)
    return _STRETCH.sub(r"\1", text)


@lru_cache(maxsize=4096)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in _TOKEN.findall(_prepare(text)):
        if raw[0].isdigit():
            out.append(raw.replace(",", "."))
            continue
        if raw in _DROPPED:
            continue
        raw = _JOINERS.get(raw, raw)
        expansion = SMS.get(raw)
        if expansion is not None:
            out.extend(expansion.split())
        else:
            out.append(raw)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    """Lower-cased, accent-free tokens, elisions and SMS spellings expanded."""
    return list(_tokenize_cached(text))


def normalize(text: str) -> str:
    """The token list joined with single spaces: what the regex-based fact parsers read."""
    return " ".join(_tokenize_cached(text))


PUNCTUATION = frozenset(".,;:!?()[]\"'/-…")
SENTENCE_END = frozenset(".!?…\n")


_SKELETON_RULES = [
    (re.compile(r"ph"), "f"),
    (re.compile(r"qu"), "k"),
    (re.compile(r"c(?=[aou])"), "k"),
    (re.compile(r"y"), "i"),
    (re.compile(r"h"), ""),
    (re.compile(r"(.)\1+"), r"\1"),
]


@lru_cache(maxsize=65536)
def skeleton(token: str) -> str:
    """A rough phonetic key: 'diarhee', 'diarrhée' and 'diaree' share one. Used for misspellings."""
    for pattern, repl in _SKELETON_RULES:
        token = pattern.sub(repl, token)
    return token


# Inflectional endings, longest first. Patients conjugate ("mes lèvres gonflent", "elle a gonflé",
# "swelling", "swells") where the lexicon lists one form: matching on this light stem makes
# every form of a listed word match without listing the forms. Only inflections are removed, and
# only from words of 5 letters or more that keep at least 4, so short function words ("plus",
# "pas", "mal") and the negation cues are left alone. A full lemmatiser (spaCy's) costs about ten
# times more per message and gets SMS spellings wrong, which is what patients type.
_ENDINGS = tuple(sorted(
    {"eraient", "issent", "aient", "erait", "erons", "eront", "ement", "ements", "ing", "ant", "ent", "ees",
     "ait", "ais", "iez", "ons", "ers", "ee", "es", "er", "ez", "ed", "e", "s"},
    key=lambda ending: (-len(ending), ending),
))


# Words whose stem would be another word ("shoulder" → "should", "number" → "numb").
_UNSTEMMED = frozenset({"shoulder", "shoulders", "number", "numbers", "evening", "evenings", "mother", "others", "winded"})


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """The light stem the lexicon matches on: 'gonflent', 'gonflée', 'gonfler' → 'gonfl'."""
    if len(token) >= 5 and token.isalpha() and token not in _UNSTEMMED:
        for ending in _ENDINGS:
            if token.endswith(ending) and len(token) - len(ending) >= 4:
                return token[: -len(ending)]
    return token


def phrase(text: str) -> tuple[str, ...]:
    """A lexicon term as the matcher sees it: tokens, stemmed."""
    return tuple(stem(t) for t in tokenize(text))
