"""What we know about the patient: concepts found, and numbers read from free text.

Everything the YAML conditions test lives in `Facts`. Numbers come from the message ("39,5 de
fièvre", "8/10", "depuis 3 jours", "bébé de 6 semaines") or from answers to follow-up questions,
which may be an option value or the patient's own words. Ages and durations are *ranges* (a
"bébé" is 0–2 years, "1 à 3 jours" is 24–72 h), so a condition can be true, false or unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from .text import normalize

Range = tuple[float, float]

_NUM_WORDS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quinze": 15, "vingt": 20, "trente": 30,
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six_": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30,
}
# Vague amounts ("quelques jours", "a few weeks") are ranges, read by _DURATION_WORDS below.
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(sorted((w for w in _NUM_WORDS if not w.endswith("_")), key=len, reverse=True)) + r")"


def _num(token: str) -> float:
    return float(token) if token[0].isdigit() else float(_NUM_WORDS[token])


@dataclass
class Facts:
    concepts: set[str] = field(default_factory=set)
    negated: set[str] = field(default_factory=set)
    age: Range | None = None
    sex: str | None = None
    pregnant_answer: bool | None = None
    temperature: float | None = None
    fever_answer: bool | None = None
    pain: float | None = None
    duration: Range | None = None
    worsening_answer: bool | None = None
    chronic_answer: bool | None = None
    answered: set[str] = field(default_factory=set)
    # Warning signs only mentioned as a question or a hypothesis ("que faire si…"), and the
    # recall net's guesses: they count once the patient confirms they are happening now.
    uncertain: set[str] = field(default_factory=set)
    confirmed: bool | None = None
    suicidal_now: bool | None = None

    # Derived three-valued facts: an explicit answer wins, then the message.
    @property
    def fever(self) -> bool | None:
        if self.temperature is not None:
            return self.temperature >= 38.0
        if self.fever_answer is not None:
            return self.fever_answer
        if "fever" in self.concepts:
            return True
        if "fever" in self.negated:
            return False
        return None

    @property
    def pregnant(self) -> bool | None:
        if self.pregnant_answer is not None:
            return self.pregnant_answer
        if self.sex == "male":
            return False
        if self.age is not None and (self.age[1] < 10 or self.age[0] >= 60):
            return False
        if "pregnant" in self.concepts:
            return True
        if "pregnant" in self.negated:
            return False
        return None

    @property
    def worsening(self) -> bool | None:
        if self.worsening_answer is not None:
            return self.worsening_answer
        if "worsening" in self.concepts:
            return True
        if "improving" in self.concepts:
            return False
        return None

    @property
    def chronic(self) -> bool | None:
        if self.chronic_answer is not None:
            return self.chronic_answer
        if self.concepts & {"chronic_condition", "chemo_immuno", "diabetes"}:
            return True
        return None

    def copy(self, **changes: Any) -> Facts:
        return replace(
            self, concepts=set(self.concepts), negated=set(self.negated), answered=set(self.answered),
            uncertain=set(self.uncertain), **changes,
        )


# --------------------------------------------------------------------------------------------
# Age
# --------------------------------------------------------------------------------------------

# "depuis 3 ans", "il y a 2 ans", "enceinte de 3 mois", "for 2 years" are not ages.
_NOT_AGE_BEFORE = re.compile(
    r"(depuis|il y a|pendant|since|for|ago|enceinte de|grossesse de|pregnant|dans|in|tous les|every|ca fait|fait|last|past|plus de|over)\s*$"
)
_AGE_YEARS = re.compile(r"\b(\d{1,3}(?:\.\d)?) ?(?:- )?(ans|an|years?|yrs?|y|yo)\b(?! ago)( ?-? ?old)?( et demi| and a half)?")
_AGE_MONTHS = re.compile(r"\b(\d{1,2}) ?(?:- )?(mois|months?|mo)\b(?! ago)( ?-? ?old)?")
_AGE_SMALL = re.compile(
    r"\b(?:(?:bebe|nourrisson|fils|fille|enfant|baby|son|daughter|newborn|infant|ne|nee|age|agee|agé|il a|elle a|he is|she is|bonhomme|puce|loulou) (?:de |of |is |est |a |qui a |il a |elle a )?(\d{1,2}) (semaines?|jours?|weeks?|days?))"
    r"|\b(\d{1,2}) ?-? ?(weeks?|days?) ?-? ?old\b"
)
_AGE_EXPLICIT = re.compile(
    r"\b(?:age|agee|aged|age de|agee de|i am|he is|she is) (\d{1,3})\b"
    r"(?! ?(?:\.|weeks|week|months|month|kg|kilos|lbs|pounds|%|degrees|minutes|hours|days|de fievre|semaines|mois|jours|heures|sa\b|°))"
)
_PREGNANCY_WEEKS = re.compile(r"\b(\d{1,2}) ?(?:semaines|sa|weeks)\b")
_AGE_WORDS: list[tuple[re.Pattern[str], Range]] = [
    (re.compile(r"\b(nouveau ne|nouveau nee|newborn|new born|nouveaux nes)\b"), (0.0, 0.08)),
    (re.compile(r"\b(nourrisson|nourisson|infant)\b"), (0.0, 1.99)),
    (re.compile(r"\b(bebe|baby|bb)\b"), (0.0, 1.99)),
    (re.compile(r"\b(toddler|bambin)\b"), (1.0, 3.99)),
    (re.compile(r"\b(mon|ma|notre|my|our) (enfant|child|kid|petit|petite|garcon|fillette|little boy|little girl)\b"), (0.0, 15.99)),
    (re.compile(r"\b(un|une|a) (enfant|child|kid|fillette|little boy|little girl)\b"), (0.0, 15.99)),
    (re.compile(r"\b(ado|adolescent|adolescente|teenager|teen)\b"), (12.0, 17.99)),
    (re.compile(r"\b(personne agee|personnes agees|tres age|tres agee|vieux|vieille|elderly|old man|old woman|old lady|retraite|retraitee|pensioner)\b"), (70.0, 120.0)),
    (re.compile(r"\b(grand mere|grand pere|grandmother|grandfather|grandma|grandpa|mamie|papi|mamy|papy)\b"), (55.0, 120.0)),
]


def parse_age(norm: str, *, answer: bool = False) -> Range | None:
    """Age range in years from normalised text, or None."""
    for m in _AGE_SMALL.finditer(norm):
        n, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        days = float(n) * (7 if unit.startswith(("semaine", "week")) else 1)
        return (days / 365.25, days / 365.25)
    for regex, scale in ((_AGE_MONTHS, 12.0), (_AGE_YEARS, 1.0)):
        for m in regex.finditer(norm):
            before = norm[max(0, m.start() - 40) : m.start()]
            if _NOT_AGE_BEFORE.search(before) and not m.group(3):
                continue
            value = float(m.group(1)) / scale
            if scale == 1.0 and m.group(4):
                value += 0.5  # "1 an et demi", "2 and a half years"
            if 0 <= value <= 120:
                return (value, value)
    found = _AGE_EXPLICIT.search(norm)
    if found and 0 <= int(found.group(1)) <= 120:
        return (float(found.group(1)), float(found.group(1)))
    if answer:
        # A bare number answering "how old?" is years; "3 semaines" is weeks.
        found = re.fullmatch(r"\s*(\d{1,3}(?:\.\d)?)\s*", norm)
        if found and float(found.group(1)) <= 120:
            return (float(found.group(1)), float(found.group(1)))
        found = re.search(r"\b(\d{1,2}) ?(semaines?|weeks?|jours?|days?)\b", norm)
        if found:
            days = float(found.group(1)) * (7 if found.group(2).startswith(("semaine", "week")) else 1)
            return (days / 365.25, days / 365.25)
    for regex, rng in _AGE_WORDS:
        if regex.search(norm):
            return rng
    return None


# --------------------------------------------------------------------------------------------
# Temperature, pain, duration, sex, yes/no
# --------------------------------------------------------------------------------------------

_TEMP = re.compile(r"\b(3[5-9]|4[0-2])(?:\.(\d))?(?: ?° ?(\d)\b)?")
_FEVER_CONTEXT = re.compile(r"(fievre|temperature|temp|thermometre|degres|degre|°|fever|febrile|\bc\b)")
_FAHRENHEIT = re.compile(r"\b(9[5-9]|10[0-9])(?:\.(\d))? ?(?:°|degres|degrees)? ?f\b")


def parse_temperature(norm: str, *, answer: bool = False) -> float | None:
    m = _FAHRENHEIT.search(norm)
    if m:
        f = float(m.group(1) + "." + (m.group(2) or "0"))
        return round((f - 32) * 5 / 9, 1)
    for m in _TEMP.finditer(norm):
        window = norm[max(0, m.start() - 25) : m.end() + 25]
        after = norm[m.end() : m.end() + 6]
        if re.match(r" ?(ans|an|years|year|semaines|sa|weeks|kg|kilos|mois|ml|mg|min|h\b|heures|cm|%)", after):
            continue
        before = norm[max(0, m.start() - 16) : m.start()]
        decimal = bool(m.group(2) or m.group(3))
        # "mon bébé de 2 mois a 38", "elle est à 39", "she's running 38": a number of 38 to 42
        # after these verbs is a temperature (an age would say "ans"/"years", excluded above).
        after_verb = re.search(r"\b(a|est a|fait|monte a|tape|est monte a|en est a|at|is|of|has|running|hit|was)\s*$", before)
        # A decimal from 37.5 to 42.9 with no unit is a temperature wherever it stands ("bb 6 semaines 38,2").
        bare_decimal = decimal and float(f"{m.group(1)}.{m.group(2) or m.group(3) or 0}") >= 37.5
        # "…en bas à droite, 38, ça fait mal", "toux + 39 + frissons": a number standing alone
        # between separators in a description of symptoms.
        standalone = re.search(r"(^|[,.+:;])\s*$", before) and re.match(r"\s*($|[,.+!?;])", norm[m.end() :])
        # "I'm 40", "je suis âgé de 39", "aged 38": an age, whatever the next word says.
        if not answer and not decimal and re.search(r"\b(i am|he is|she is|aged|age|agee|je suis|il est|elle est) (de )?$", before):
            continue
        if answer or after_verb or bare_decimal or standalone or _FEVER_CONTEXT.search(window):
            decimals = m.group(2) or m.group(3) or "0"
            return float(f"{m.group(1)}.{decimals}")
    return None


_PAIN_SCORE = re.compile(r"\b(\d{1,2}(?:\.\d)?) ?(?:/|sur|out of|over) ?10\b")
_PAIN_WORDS: list[tuple[re.Pattern[str], float]] = [
    (re.compile(r"\b(insupportable|atroce|intolerable|unbearable|excruciating|agony|horrible|worst pain|jamais eu aussi mal|pire douleur|hurle de douleur|screaming in pain)\b"), 9.5),
    (re.compile(r"\b(tres mal|trop mal|super mal|hyper mal|vraiment mal|tres fort|tres forte|tres intense|intense|violente?|severe|terrible|really bad|really hurts|so much pain|very painful|tres douloureux|tres douloureuse|enormement mal)\b"), 7.5),
    (re.compile(r"\b(moyenne|moderee|moderate|supportable|bearable)\b"), 5.0),
    (re.compile(r"\b(un peu mal|legere|leger|legerement|mild|slight|slightly|a bit sore|a little|petite douleur|gene)\b"), 2.0),
]


def parse_pain(norm: str, *, answer: bool = False) -> float | None:
    m = _PAIN_SCORE.search(norm)
    if m and float(m.group(1)) <= 10:
        return float(m.group(1))
    if answer:
        m = re.fullmatch(r"\s*(\d{1,2}(?:\.\d)?)\s*", norm)
        if m and float(m.group(1)) <= 10:
            return float(m.group(1))
    for regex, value in _PAIN_WORDS:
        if regex.search(norm):
            return value
    return None


_UNIT_HOURS = {
    "minute": 1 / 60, "minutes": 1 / 60, "min": 1 / 60, "mn": 1 / 60,
    "heure": 1, "heures": 1, "h": 1, "hour": 1, "hours": 1,
    "jour": 24, "jours": 24, "j": 24, "day": 24, "days": 24, "nuit": 24, "nuits": 24, "night": 24, "nights": 24,
    "semaine": 168, "semaines": 168, "week": 168, "weeks": 168,
    "mois": 720, "month": 720, "months": 720,
    "an": 8766, "ans": 8766, "annee": 8766, "annees": 8766, "year": 8766, "years": 8766,
}
_UNITS = "|".join(sorted(_UNIT_HOURS, key=len, reverse=True))
_DURATION = re.compile(
    rf"\b(?:depuis|ca fait|cela fait|il y a|pendant|for|since|for the last|for the past|over the last|past|last|about|environ|presque|almost) (?:environ |about |presque |almost |plus de |more than |over |maybe )?{_NUM} ({_UNITS})\b"
)
_AGO = re.compile(rf"\b{_NUM} ({_UNITS}) ago\b")
_DURATION_BARE = re.compile(rf"^\s*(?:depuis |ca fait |for |since )?(?:environ |about |plus de )?{_NUM} ({_UNITS})\b")
_DURATION_WORDS: list[tuple[re.Pattern[str], Range]] = [
    (re.compile(r"\b(a le instant|a l instant|just now|just started|vient de commencer|viens de|vient de|tout a coup|il y a quelques minutes|few minutes ago|minutes ago)\b"), (0.0, 1.0)),
    (re.compile(r"\b(depuis quelques heures|a few hours|few hours|quelques heures|depuis des heures|for hours)\b"), (2.0, 12.0)),
    (re.compile(r"\b(depuis ce matin|ce matin|this morning|depuis cette nuit|cette nuit|last night|tonight|ce soir|this evening|depuis tout a le heure|tout a le heure|aujourd hui|today|this afternoon|cet apres midi|depuis midi)\b"), (0.0, 23.9)),
    (re.compile(r"\b(avant hier|day before yesterday)\b"), (36.0, 71.9)),
    (re.compile(r"\b(depuis hier|hier|since yesterday|yesterday)\b"), (12.0, 47.9)),
    (re.compile(r"\b(quelques jours|plusieurs jours|a few days|few days|several days|couple of days|des jours)\b"), (48.0, 167.9)),
    (re.compile(r"\b(une semaine|a week|one week|la semaine derniere|last week)\b"), (168.0, 336.0)),
    (re.compile(r"\b(des semaines|plusieurs semaines|quelques semaines|for weeks|several weeks|a few weeks|few weeks)\b"), (336.0, 1500.0)),
    (re.compile(r"\b(depuis longtemps|depuis des mois|depuis des annees|for months|for years|for ages|a long time|long time|toujours eu|always had|chronique|chronic)\b"), (1008.0, 100000.0)),
]


def parse_duration(norm: str, *, answer: bool = False) -> Range | None:
    for regex in (_DURATION, _AGO):
        m = regex.search(norm)
        if m:
            hours = _num(m.group(1)) * _UNIT_HOURS[m.group(2)]
            return (hours, hours)
    if answer:
        m = _DURATION_BARE.search(norm)
        if m:
            hours = _num(m.group(1)) * _UNIT_HOURS[m.group(2)]
            return (hours, hours)
    for regex, rng in _DURATION_WORDS:
        if regex.search(norm):
            return rng
    return None


_FEMALE = re.compile(r"\b(je suis une femme|une femme|femme de|woman|i am a woman|girl|jeune fille|fille de|ma fille|my daughter|madame|mme|enceinte|pregnant|fillette)\b")
_MALE = re.compile(r"\b(je suis un homme|un homme|homme de|man|i am a man|garcon|boy|mon fils|my son|monsieur|mr)\b")


def parse_sex(norm: str) -> str | None:
    female, male = bool(_FEMALE.search(norm)), bool(_MALE.search(norm))
    if female and not male:
        return "female"
    if male and not female:
        return "male"
    return None


_YES = re.compile(r"^\s*(oui|ouais|yes|yeah|yep|y|o|si|bien sur|of course|exact|exactement|tout a fait|absolument|peut etre|possible|possibly|maybe|probablement|je pense|i think so)\b")
_NO = re.compile(r"^\s*(non|no|nope|nan|n|pas du tout|pas vraiment|not really|aucun|aucune|none|jamais|never)\b")


def parse_yes_no(norm: str) -> bool | None:
    if _NO.search(norm):
        return False
    if _YES.search(norm):
        return True
    return None


def facts_from_text(text: str) -> dict[str, object]:
    """Numbers read from the message itself (not from answers)."""
    norm = normalize(text)
    return {
        "age": parse_age(norm),
        "temperature": parse_temperature(norm),
        "pain": parse_pain(norm),
        "duration": parse_duration(norm),
        "sex": parse_sex(norm),
    }
