"""`triage()`: level of care, service, reasons, follow-up questions and safety-net for a message."""

from __future__ import annotations

from .analysis import Analysis, analyse, qualifier
from .conditions import CONCEPT_KEYS, evaluate
from .decision import Decision, decide, flags_if_confirmed
from .facts import Facts
from .questions import apply_answers, pending
from .recall import RecallHit, recall_net
from .result import EmergencyNumber, FollowUpQuestion, QuestionOption, TriageResult
from .rules import LEVEL_RANK, Question, RuleBook, rules
from .screen import consult_recall_net, facts_from_analysis, normalise_language, to_red_flag

# When nothing recognisable was described we still must return a level: a doctor the same day
# is the neutral answer while we ask the patient to describe the problem (never "self_care").
FALLBACK_LEVEL = "same_day"
MAX_REASON_ITEMS = 6

# Which numbers to show, per level (always with 15 / 112 / 114 SMS).
LEVEL_NUMBERS = {
    "same_day": ("on_call_gp", "sos_medecins"),
    "pharmacist": ("duty_pharmacy",),
    "self_care": ("duty_pharmacy",),
}


def warm_up() -> None:
    """Load the rules and build the edsnlp pipeline now (a few seconds) instead of on the first
    patient message. Call it at back-office start-up."""
    book = rules()
    qualifier(book).warm_up()
    recall_net()
    analyse("je n'ai pas de douleur à la poitrine", "fr")
    analyse("no chest pain", "en")
    # edsnlp compiles some matchers lazily on the first long document: pay that here too.
    analyse(" ".join(f"Phrase {i} : je n'ai pas de fièvre mais j'ai mal au ventre depuis hier." for i in range(40)), "fr")


def _concept_texts(analysis: Analysis, concepts: set[str], book: RuleBook, language: str) -> list[str]:
    labels: list[str] = []
    for mention in analysis.mentions:
        if mention.affirmed and mention.concept in concepts:
            label = book.concepts[mention.concept].label.get(language) or mention.text
            if label not in labels:
                labels.append(label)
    return labels[:MAX_REASON_ITEMS]


def _join(items: list[str], language: str, book: RuleBook) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {book.texts['reasons']['and'][language]} " + items[-1]


def _condition_concepts(conditions: list[dict]) -> set[str]:
    found: set[str] = set()
    for cond in conditions:
        for key in CONCEPT_KEYS:
            if key != "none":
                found.update(cond.get(key, []))
        found.update(_condition_concepts(cond.get("any_of", [])))
        if "fever" in cond or "temperature" in cond:
            found.add("fever")
    return found


def _reasons(decision: Decision, facts: Facts, analysis: Analysis, book: RuleBook, language: str) -> list[str]:
    texts = book.texts["reasons"]
    involved: set[str] = set()
    for flag in decision.flags:
        involved |= _condition_concepts(list(flag.conditions))
    outcomes = [o for o in decision.outcomes if o.level == decision.level] or decision.outcomes[:1]
    for outcome in outcomes:
        involved |= set(outcome.complaint.triggers) | _condition_concepts([outcome.rule.when])
    items = _concept_texts(analysis, involved & facts.concepts, book, language)
    if facts.temperature is not None and facts.temperature >= 38:
        value = f"{facts.temperature:.1f}".replace(".", texts["decimal_point"][language])
        items.append(texts["temperature"][language].format(value=value))
    if facts.pain is not None and facts.pain >= 4:
        items.append(texts["pain"][language].format(score=f"{facts.pain:g}"))
    reasons = []
    if items:
        reasons.append(texts["you_describe"][language].format(items=_join(items, language, book)))
    for flag in decision.flags:
        reasons.append(texts["red_flag"][language].format(label=flag.label[language]))
    if decision.top is not None and not decision.flags:
        reasons.append(decision.top.rule.because[language])
        for modifier in decision.top.modifiers:
            reasons.append(modifier.because[language])
    return reasons


def _numbers(level: str, extra: list[str], book: RuleBook, language: str) -> list[EmergencyNumber]:
    codes = list(book.default_numbers) + list(LEVEL_NUMBERS.get(level, ())) + extra
    seen: list[str] = []
    for code in codes:
        if code not in seen:
            seen.append(code)
    return [EmergencyNumber(book.numbers[c].number, book.numbers[c].label[language]) for c in seen]


def _safety_net(level: str, facts: Facts, flags: list[str], book: RuleBook, language: str,
                decision: Decision | None = None) -> str:
    net = book.texts["safety_net"]
    outcomes = decision.outcomes if decision else []
    parts = []
    if "suicidal_thoughts" in flags and "suicidal_intent" not in flags:
        # Dark thoughts: 3114 first, and none of the generic "contact us again if it lasts".
        return net["suicide"][language]
    if level == "emergency_call":
        parts.append(net["emergency_call"][language])
    else:
        # The signs specific to what the patient describes (NHS 111-style safety-netting), then
        # the general ones.
        specific = [o.complaint.safety_net[language] for o in outcomes if o.complaint.safety_net]
        parts.extend(list(dict.fromkeys(specific))[:2])
        parts.append(net["default"][language])
        if LEVEL_RANK[level] >= LEVEL_RANK["same_day"]:
            parts.append(net["recontact"][language])
    if "child_mention" in facts.concepts or evaluate({"age": {"below": 16}}, facts) is True:
        parts.append(net["child"][language])
    if facts.pregnant is True:
        parts.append(net["pregnancy"][language])
    if "suicidal_intent" in flags or any(o.complaint.code == "mental_health" for o in outcomes):
        parts.append(net["suicide"][language])
    if "poisoning" in flags:
        parts.append(net["poison"][language])
    return " ".join(parts)


def _advice(decision: Decision, book: RuleBook, language: str) -> str:
    """What to do at this level; a red flag's own first aid (CPR, adrenaline, sugar, cooling,
    safety from a violent person, the maternity) replaces the level's general text."""
    # Only the flags at the level given: a call to 15 is not followed by "go to the maternity".
    own = list(dict.fromkeys(f.advice[language] for f in decision.flags if f.advice and f.level == decision.level))
    if not own:
        return book.texts["levels"][decision.level][language]
    lead = [book.texts["call_now"][language]] if decision.level == "emergency_call" else []
    return " ".join(lead + own)


def _question(q: Question, language: str, hit: RecallHit | None = None) -> FollowUpQuestion:
    # When the recall net raised the confirmation, it asks about its own category's signs.
    text = hit.category.question[language] if hit is not None and q.id == "confirm_now" and hit.category.confirms else q.text[language]
    return FollowUpQuestion(q.id, text, [QuestionOption(o.value, o.label[language]) for o in q.options])


def _describe_result(language: str, book: RuleBook, facts: Facts) -> TriageResult:
    describe = book.describe
    return TriageResult(
        level=FALLBACK_LEVEL,
        service=None,
        red_flags=[],
        reasons=[book.texts["describe"]["reason"][language]],
        follow_up_questions=[FollowUpQuestion(describe["id"], describe["text"][language], [])],
        safety_net=_safety_net("same_day", facts, [], book, language),
        language=language,
        complete=False,
        advice=book.texts["describe"]["reason"][language],
        emergency_numbers=_numbers("emergency_call", [], book, language),
        rules_version=book.version,
    )


def _engine_questions(
    facts: Facts, decision: Decision, book: RuleBook, guessed: set[str]
) -> tuple[list[Question], list[Question]]:
    """The questions the engine asks itself: (before the rules' questions, after them).

    Before: is a sign the patient only mentioned as a question or a hypothesis happening now
    (one yes/no rather than dropping it), and, for dark thoughts described indirectly, the
    screener's direct question about suicide. After: the recall net's confirming question (its
    `guessed` concepts), which the rules' own questions (age, temperature…) often settle first."""
    by_id = {q.id: q for q in book.questions if q.engine_asks}
    first: list[Question] = []
    last: list[Question] = []
    known = {f.code for f in decision.flags}

    def raises(concepts: set[str]) -> bool:
        return any(f.code not in known for f in flags_if_confirmed(facts, concepts, book))

    if facts.confirmed is None and facts.uncertain:
        if raises(facts.uncertain - guessed):
            first.append(by_id["confirm_now"])
        elif raises(facts.uncertain):
            last.append(by_id["confirm_now"])
    if "suicidal_thoughts" in known and "suicidal_intent" not in known and facts.suicidal_now is None:
        first.append(by_id["suicide_thoughts"])
    return first, last


def triage(
    text: str,
    *,
    age: int | float | None = None,
    sex: str | None = None,
    language: str | None = None,
    answers: dict[str, str] | None = None,
) -> TriageResult:
    """Orient a patient from their own description (French or English).

    `answers` holds the answers to earlier follow-up questions (question id → option value or
    free text); call again with the accumulated answers until `complete` is True.
    """
    book = rules()
    text = text if isinstance(text, str) else ""
    answers = {k: v for k, v in (answers or {}).items() if isinstance(v, str)}
    # A free-text description given in answer to "describe the problem" is part of the message.
    full_text = " . ".join(t for t in (text, answers.pop("describe", "")) if t and t.strip())
    lang = normalise_language(language)
    analysis = analyse(full_text, lang)
    lang = analysis.language

    facts = facts_from_analysis(full_text, analysis)
    if age is not None and 0 <= float(age) <= 130:
        facts.age = (float(age), float(age))
    if sex:
        s = sex.strip().lower()
        facts.sex = "female" if s[:1] in ("f", "w") else "male" if s[:1] in ("m", "h") else facts.sex
    apply_answers(facts, answers, book)
    hit, guessed = consult_recall_net(full_text, facts, book)
    if facts.confirmed:
        facts.concepts |= facts.uncertain
    if facts.suicidal_now:
        facts.concepts.add("suicidal")

    decision = decide(facts, book)
    asked_first, asked_last = _engine_questions(facts, decision, book, guessed)
    if decision.level is None and not (asked_first or asked_last):
        return _describe_result(lang, book, facts)
    if decision.level is None:
        decision = Decision(FALLBACK_LEVEL, None)
    level = decision.level or FALLBACK_LEVEL

    questions = (asked_first + pending(facts, decision, book) + asked_last)[: book.max_questions]
    flags = [to_red_flag(f, analysis, book) for f in decision.flags]
    flag_codes = [f.code for f in flags]
    extra_numbers = [n for f in decision.flags for n in f.extra_numbers]
    extra_numbers += [n for o in decision.outcomes for n in o.complaint.extra_numbers]
    reasons = _reasons(decision, facts, analysis, book, lang)
    if questions:
        reasons.append(book.texts["reasons"]["pending"][lang])
    return TriageResult(
        level=level,
        service=decision.service,
        red_flags=flag_codes,
        reasons=reasons,
        follow_up_questions=[_question(q, lang, hit) for q in questions],
        safety_net=_safety_net(level, facts, flag_codes, book, lang, decision),
        language=lang,
        complete=not questions,
        advice=_advice(decision, book, lang),
        emergency_numbers=_numbers(level, extra_numbers, book, lang),
        flags=flags,
        concepts=sorted(facts.concepts),
        rules_version=book.version,
    )
