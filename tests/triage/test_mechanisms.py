"""The reading mechanisms behind the triage safety issue, each on the issue's own examples.

These messages come from the issue that found the mechanisms (not from the blind corpus, which
is scored apart in test_blind.py): negation that reached too far, questions about one's own
symptoms read as hypotheses, surface forms, numbers, suicide, over-triage, advice and bad input.
"""

from __future__ import annotations

import pytest

from bot.triage import red_flags_in, screen_message, triage
from bot.triage.recall import recall_net

CALL = "emergency_call"
EMERGENCY = {"emergency_call", "emergency_department"}


@pytest.mark.parametrize(
    "text",
    [
        # negation does not cross a clause, and a symptom negative in form is the symptom
        "No, he's not breathing",
        "I don't know why my chest hurts so much and I'm sweating",
        "je sais pas quoi faire il respire plus",
        "non il respire pas, il est tombé d'un coup",
        # a question about one's own symptoms describes them
        "est-ce grave si j'ai mal à la poitrine et au bras gauche depuis une heure ?",
        "is it serious if my chest hurts and I'm sweating",
        "dites-moi si je dois m'inquiéter : douleur thoracique + sueurs",
        # surface forms: inflections, SMS spellings, typos
        "mes lèvres gonflent",
        "elle respire pa",
        "mon bb respire plu il est tt bleu",
        "ma mère a la bouche de traver",
        # invisible characters inside words are removed, not turned into spaces
        "dou\u200bleur dans la poi\u200btrine qui serre et je transpire",
        "dou\u00adleur dans la poi\u2060trine qui serre et je trans\u200cpire",
        # conditions that were missing
        "je vomis du marc de café",
        "I feel like I'm going to die, shaking chills and my heart is racing",
        "toute la famille a mal à la tête et envie de vomir depuis qu'on a rallumé la vieille chaudière",
        "Sudden tearing pain between my shoulder blades, the worst pain I've ever had",
        "ma grand mere etait par terre toute la nuit elle est glacée",
        "my husband is threatening me with a knife and the kids are here",
        "mon fils 18 mois a renversé la casserole d'eau bouillante sur le torse",
        "elle a avalé une pile bouton de télécommande",
        # shouting and emoji change nothing
        "MON PERE RESPIRE PLUS AIDEZ MOI",
        "😭😭 il respire plus 😭",
    ],
)
def test_emergencies_reach_the_call_level(text: str) -> None:
    assert triage(text).level == CALL, text


@pytest.mark.parametrize(
    "text",
    [
        "mon bébé de 2 mois a 38",
        "elle est à 39, elle a 2 mois",
        "bb 6 semaines 38,2",
        "she's 2 months and running 38",
        "saignement de nez qui ne s'arrête pas sous Eliquis",
        "enceinte de 34 semaines, j'ai le visage et les mains très gonflés",
        "mes règles ont une semaine de retard et j'ai très mal en bas du ventre à gauche",
        "je ne sens plus mon bébé bouger depuis ce matin, je suis enceinte de 34 semaines",
    ],
)
def test_numbers_and_conditions_reach_emergency_care(text: str) -> None:
    assert triage(text).level in EMERGENCY, text


@pytest.mark.parametrize(
    "text",
    [
        "sore throat that came on suddenly yesterday and a headache",
        "Mal à la gorge d'un coup depuis hier soir, mal à la tête et 38,7",
        "rendez-vous pour mon angor stable",
        "RDV de suivi post-infarctus",
        "need to book cardiology for my stable angina pls",
        "car accident 2 weeks ago, my neck still hurts",
        "stung by a bee, my lip is a bit swollen, no breathing problem, no rash",
        "Ma femme dit que je ronfle fort et que j'arrête de respirer la nuit",
        "I fainted once yesterday while giving blood, been fine since",
        "je me suis coupé o doigt avc 1 couto sa saign 1 peu",
        "Je me suis réveillé avec le bras tout engourdi parce que j'avais dormi dessus, tout est revenu",
        "c normal que mon cœur ait fait quelques ratés après 4 cafés ?",
    ],
)
def test_lookalikes_stay_out_of_the_call_level(text: str) -> None:
    assert triage(text).level != CALL, text


def test_a_sign_mentioned_as_a_general_question_gets_one_confirming_question() -> None:
    asked = triage("how do I recognise a stroke?")
    assert asked.level not in EMERGENCY
    assert asked.follow_up_questions[0].id == "confirm_now"
    assert triage("how do I recognise a stroke?", answers={"confirm_now": "yes"}).level == CALL
    assert triage("how do I recognise a stroke?", answers={"confirm_now": "no"}).level not in EMERGENCY


def test_dark_thoughts_get_3114_and_the_direct_question() -> None:
    result = triage("je suis un poids pour tout le monde, à quoi bon continuer")
    assert "suicidal_thoughts" in result.red_flags
    assert "3114" in {n.number for n in result.emergency_numbers}
    assert result.level != "appointment" and not result.complete
    assert result.follow_up_questions[0].id == "suicide_thoughts"
    yes = triage("je suis un poids pour tout le monde, à quoi bon continuer", answers={"suicide_thoughts": "oui"})
    assert yes.level == CALL and "suicidal_intent" in yes.red_flags
    no = triage("je suis un poids pour tout le monde, à quoi bon continuer", answers={"suicide_thoughts": "non"})
    assert no.level == "same_day" and "3114" in {n.number for n in no.emergency_numbers}


@pytest.mark.parametrize(
    "text",
    [
        "I've been saving up my pills",
        "my brother just texted me goodbye",
        "j'ai acheté une corde, c'est pour ce soir",
        "I'm sitting in my car in the garage with the engine running.",
    ],
)
def test_a_plan_a_method_or_a_goodbye_is_15_and_3114(text: str) -> None:
    result = triage(text)
    assert result.level == CALL and "suicidal_intent" in result.red_flags, text
    assert {"15", "3114"} <= {n.number for n in result.emergency_numbers}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("il ne respire plus", ["massage cardiaque", "défibrillateur"]),
        ("my lips and tongue are swelling after peanuts", ["adrenaline", "thigh"]),
        ("mon mari me frappe, j'ai peur", ["17", "114"]),
        ("mon père diabétique est en hypo, il est tout confus", ["sucre"]),
        ("enceinte de 30 semaines, je perds du sang", ["maternité"]),
        ("je me suis brûlé tout le bras avec de l'huile", ["eau courante", "15 à 20 minutes"]),
    ],
)
def test_first_aid_advice_fits_the_emergency(text: str, words: list[str]) -> None:
    advice = triage(text).advice
    for word in words:
        assert word in advice, (text, word, advice)


def test_violence_advice_never_says_do_not_drive() -> None:
    advice = triage("my husband is threatening me with a knife").advice
    assert "drive" not in advice and "17" in advice


def test_long_message_with_the_red_flag_in_its_last_sentence() -> None:
    filler = "Je vous écris parce que je ne sais pas trop à qui m'adresser pour mon rendez-vous de la semaine prochaine. "
    text = filler * 48 + "Et là, depuis dix minutes, mon mari ne respire plus."
    assert len(text) > 5000
    assert [f.code for f in red_flags_in(text)] == ["cardiac_arrest"]


def test_mixed_languages_are_screened() -> None:
    assert triage("help svp my wife a mal à la poitrine, she's sweating a lot").level == CALL


def test_the_recall_net_asks_about_what_the_rules_did_not_catch() -> None:
    net = recall_net()
    assert net.classify("266977") is None and net.classify("ok") is None and net.classify("😀😀") is None
    hit = net.classify("ma fille est toute molle et grise, elle ne réagit presque plus quand on lui parle")
    assert hit is not None


def test_the_screen_sends_dark_thoughts_and_questioned_signs_to_the_orientation() -> None:
    dark = screen_message("je suis un fardeau pour ma famille, ils seraient mieux sans moi")
    assert not dark.urgent and [f.code for f in dark.concerns] == ["suicidal_thoughts"]
    questioned = screen_message("que faire si mon père ne respire plus ?")
    assert not questioned.urgent and questioned.to_confirm
    assert not screen_message("quels sont les horaires de la cardiologie ?").to_confirm
