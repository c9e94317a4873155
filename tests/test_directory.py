"""The hospital directory: finding services and exams in what patients type, and saying hours,
places and lists the way a patient reads them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.hospital import directory as directory_module
from bot.hospital.directory import (
    Directory,
    EmptyDirectoryError,
    OpeningSlot,
    ServiceInfo,
    format_hours,
    format_location,
    format_service_list,
    format_time,
    get_directory,
    invalidate,
    is_open,
    load_directory,
)
from bot.hospital.models import Service

pytest_plugins = ("tests.hospital_db",)  # fixtures: hospital_db, seed_hospital, demo_directory
Sessions = async_sessionmaker[AsyncSession]

PARIS = ZoneInfo("Europe/Paris")
on_loop = pytest.mark.asyncio(loop_scope="session")


# ---------------------------------------------------------------- finding a service in a sentence

SERVICE_CASES = [
    # (what the patient typed, language, status, expected codes in order — or a set when order is free)
    ("c quoi les horaires de la cardio stp", "fr", "found", ["cardiologie"]),
    ("la maternite", "fr", "found", ["maternite"]),
    ("urgences pédiatriques", "fr", "found", ["urgences-pediatriques"]),
    ("urgences pediatriques svp", "fr", "found", ["urgences-pediatriques"]),
    ("urgence pedia c ou", "fr", "found", ["urgences-pediatriques"]),
    ("les urgences pour enfants", "fr", "found", ["urgences-pediatriques"]),
    ("horaires des urgences", "fr", "ambiguous", {"urgences", "urgences-pediatriques"}),
    ("urgences", "fr", "ambiguous", {"urgences", "urgences-pediatriques"}),
    ("urgences adultes", "fr", "found", ["urgences"]),
    ("radio", "fr", "found", ["radiologie"]),
    ("quel est le numero de la radiologie", "fr", "found", ["radiologie"]),
    ("cardiolgie", "fr", "found", ["cardiologie"]),
    ("kardio", "fr", "found", ["cardiologie"]),
    ("pediatrie", "fr", "found", ["pediatrie"]),
    ("ou est l'ORL", "fr", "found", ["orl"]),
    ("rdv ophtalmo", "fr", "found", ["ophtalmologie"]),
    ("la dermato c'est ou", "fr", "found", ["dermatologie"]),
    ("rdv en gastro enterologie", "fr", "found", ["gastro-enterologie"]),
    ("urologie", "fr", "found", ["urologie"]),
    ("neurologie", "fr", "found", ["neurologie"]),
    ("le labo ouvre a quelle heure", "fr", "found", ["laboratoire"]),
    ("visite en reanimation", "fr", "found", ["reanimation"]),
    ("soins intensifs de cardiologie", "fr", "found", ["cardiologie"]),
    ("c'est possible d'avoir un rdv en urgence en gyneco", "fr", "found", ["gynecologie"]),
    ("mon pere est en neurologie et ma mere en cardiologie", "fr", "ambiguous", {"neurologie", "cardiologie"}),
    ("cardiologie pediatrique", "fr", "ambiguous", {"cardiologie", "pediatrie"}),
    ("where is the eye clinic", "en", "found", ["ophtalmologie"]),
    ("what are the opening hours of cardiology?", "en", "found", ["cardiologie"]),
    ("which floor is radiology on?", "en", "found", ["radiologie"]),
    ("radiology", "en", "found", ["radiologie"]),
    ("heart", "en", "found", ["cardiologie"]),
    ("I need an x-ray", "en", "found", ["radiologie"]),
    ("maternity ward visiting hours", "en", "found", ["maternite"]),
    ("how do i get to the paediatric ER", "en", "found", ["urgences-pediatriques"]),
    ("are the paediatric emergencies open at weekends", "en", "found", ["urgences-pediatriques"]),
    ("what's the address for the cardiology clinic", "en", "found", ["cardiologie"]),
    ("call the gyn clinic", "en", "found", ["gynecologie"]),
    ("wat floor is peds", "en", "found", ["pediatrie"]),
    ("where is the A&E", "en", "ambiguous", {"urgences", "urgences-pediatriques"}),
    ("ER", "en", "ambiguous", {"urgences", "urgences-pediatriques"}),
    ("obgyn", "en", "ambiguous", {"maternite", "gynecologie"}),
    ("is pulmonology in the same building as cardiology", "en", "ambiguous", {"pneumologie", "cardiologie"}),
    # Ordinary words never name a service.
    ("bonjour", "fr", "none", []),
    ("je voudrais prendre rendez-vous", "fr", "none", []),
    ("a quelles heures", "fr", "none", []),
    ("c'est urgent", "fr", "none", []),
    ("j'ai une question urgente", "fr", "none", []),
    ("quelle dose d'ibuprofene pour un adulte", "fr", "none", []),
    ("y a un medecin generaliste ?", "fr", "none", []),
    ("en cas d'urgence je fais quoi", "fr", "none", []),
    ("the", "en", "none", []),
    ("what", "en", "none", []),
    ("what are the visiting hours", "en", "none", []),
    ("should i see a doctor", "en", "none", []),
    ("do you have a pain clinic", "en", "none", []),
    ("can children visit", "en", "none", []),
    ("the hospital's phone number", "en", "none", []),
    ("", "en", "none", []),
    ("👍🙏", "fr", "none", []),
]


@pytest.mark.parametrize(("text", "language", "status", "expected"), SERVICE_CASES,
                         ids=[f"{c[1]}:{c[0] or 'empty'}" for c in SERVICE_CASES])
def test_a_service_is_found_in_what_patients_type(demo_directory: Directory, text, language, status, expected):
    match = demo_directory.match_service(text, language)
    codes = [s.code for s in match.services]
    assert match.status == status, codes
    assert (set(codes) if isinstance(expected, set) else codes) == expected
    assert (match.service is not None) == (status == "found")


def test_every_name_and_alias_finds_its_own_service(demo_directory: Directory) -> None:
    for service in demo_directory.services:
        phrases = [*service.name.values(), *(a for aliases in service.aliases.values() for a in aliases)]
        for phrase in phrases:
            for language in ("fr", "en"):
                match = demo_directory.match_service(phrase, language)
                assert service in match.services, (service.code, phrase, match.status)


def test_ambiguous_emergencies_list_the_adult_department_first(demo_directory: Directory) -> None:
    match = demo_directory.match_service("urgences", "fr")
    assert [s.code for s in match.services] == ["urgences", "urgences-pediatriques"]


def test_a_very_long_message_is_matched_quickly(demo_directory: Directory) -> None:
    import time as clock

    text = "bonjour je voudrais savoir pour ma mere qui est hospitalisee " * 100 + " cardio"
    started = clock.perf_counter()
    demo_directory.match_service(text, "fr")
    assert clock.perf_counter() - started < 0.5


EXAM_CASES = [
    ("comment me preparer pour une IRM", "fr", "found", ["irm"]),
    ("il faut etre a jeun pour la prise de sang ?", "fr", "found", ["prise-de-sang"]),
    ("preparation coloscopie", "fr", "found", ["coloscopie"]),
    ("les lentilles c bon pour le fond d'œil ?", "fr", "found", ["fond-d-oeil"]),
    ("avant le scanner je peux manger ?", "fr", "found", ["scanner"]),
    ("echo cardiaque", "fr", "found", ["echographie-cardiaque"]),
    ("faut il se laver les cheveux avant l'eeg", "fr", "found", ["eeg"]),
    ("il faut boire avant l'echographie ?", "fr", "ambiguous",
     {"echographie", "echographie-cardiaque", "echographie-pelvienne"}),
    ("preparation pour une fibroscopie", "fr", "ambiguous", {"gastroscopie", "fibroscopie-bronchique"}),
    ("do i need to fast before my colonoscopy", "en", "found", ["coloscopie"]),
    ("can i wear deodorant for a mammogram", "en", "found", ["mammographie"]),
    ("prep for a cardiac stress test", "en", "found", ["epreuve-d-effort"]),
    ("how long is the mri and how do i prepare", "en", "found", ["irm"]),
    ("how long nil by mouth before anaesthetic", "en", "found", ["intervention-chirurgicale"]),
    ("can i smoke before my exam", "en", "none", []),
    ("bonjour", "fr", "none", []),
]


@pytest.mark.parametrize(("text", "language", "status", "expected"), EXAM_CASES, ids=[f"{c[1]}:{c[0]}" for c in EXAM_CASES])
def test_an_exam_is_found_in_what_patients_type(demo_directory: Directory, text, language, status, expected):
    match = demo_directory.match_exam(text, language)
    codes = [e.code for e in match.exams]
    assert match.status == status, codes
    assert (set(codes) if isinstance(expected, set) else codes) == expected


def test_every_exam_alias_finds_its_own_exam(demo_directory: Directory) -> None:
    for exam in demo_directory.exams:
        for phrase in [*exam.name.values(), *(a for aliases in exam.aliases.values() for a in aliases)]:
            assert exam in demo_directory.match_exam(phrase, "fr").exams, (exam.code, phrase)


# ---------------------------------------------------------------- the snapshot


def test_the_directory_answers_by_code_and_specialty(demo_directory: Directory) -> None:
    assert demo_directory.site.name == "Centre hospitalier de Valmont-sur-Loire"
    assert demo_directory.service("cardiologie").specialty == "cardiology"
    assert demo_directory.service("nope") is None
    assert [s.code for s in demo_directory.services_for_specialty("emergency")] == ["urgences"]
    assert demo_directory.services_for_specialty("astrology") == ()
    assert demo_directory.exam("irm").service_code == "radiologie"
    assert demo_directory.exam("irm") in demo_directory.service("radiologie").exams
    assert demo_directory.service("cardiologie").practitioners[0].display_name == "Pr Antoine Ferrand"


def test_the_snapshot_is_immutable(demo_directory: Directory) -> None:
    service = demo_directory.service("cardiologie")
    with pytest.raises(ValidationError, match="frozen"):
        service.phone = "0"
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo_directory.services = ()  # type: ignore[misc]
    assert isinstance(service.hours, tuple) and isinstance(service.practitioners, tuple)


@on_loop
async def test_rows_the_file_would_refuse_are_still_answered_for(hospital_db: Sessions, seed_hospital) -> None:
    """An administrator's row need not say everything the hospital file must."""
    await seed_hospital(hospital_db)
    async with hospital_db() as session:
        service = await session.scalar(
            select(Service).where(Service.code == "urologie").options(selectinload(Service.hours)))
        service.specialty, service.phone, service.description = "nephrology", "", {"fr": "Les reins."}
        service.hours = []
        await session.commit()
    async with hospital_db() as session:
        urology = (await load_directory(session)).service("urologie")
    assert (urology.specialty, urology.phone, urology.description) == ("nephrology", "", {"fr": "Les reins."})
    assert format_hours(urology, "fr") == "horaires non communiqués" and not is_open(urology)


@on_loop
async def test_a_row_an_administrator_broke_is_left_out_not_fatal(hospital_db: Sessions, seed_hospital, caplog) -> None:
    await seed_hospital(hospital_db)
    async with hospital_db() as session:
        service = await session.scalar(select(Service).where(Service.code == "urologie"))
        service.code, service.name = "Urologie_1", {"fr": "", "en": ""}
        await session.commit()
    async with hospital_db() as session:
        directory = await load_directory(session)
    assert directory.service("cardiologie") is not None
    assert all(s.code != "Urologie_1" for s in directory.services)
    assert "left out" in caplog.text


@on_loop
async def test_an_empty_database_says_to_seed(hospital_db: Sessions) -> None:
    async with hospital_db() as session:
        with pytest.raises(EmptyDirectoryError, match="python -m bot seed"):
            await load_directory(session)


@on_loop
async def test_the_directory_is_cached_until_it_expires_or_a_seed_invalidates_it(
    hospital_db: Sessions, seed_hospital
) -> None:
    invalidate()
    await seed_hospital(hospital_db)
    first = await get_directory(hospital_db)
    assert await get_directory(hospital_db) is first
    assert await get_directory(hospital_db, max_age=0) is not first
    cached = await get_directory(hospital_db)
    invalidate()
    assert await get_directory(hospital_db) is not cached
    cached = await get_directory(hospital_db)
    await seed_hospital(hospital_db)  # a seed in this process forgets the snapshot
    assert await get_directory(hospital_db) is not cached
    assert hospital_db in directory_module._cache  # kept per database


# ---------------------------------------------------------------- hours, places and lists


def service_with(hours: dict[int, list[tuple[str, str]]], open_all_hours: bool = False) -> ServiceInfo:
    slots = tuple(
        OpeningSlot(weekday=day, opens=time.fromisoformat(opens), closes=time.fromisoformat(closes))
        for day, intervals in sorted(hours.items()) for opens, closes in intervals
    )
    return ServiceInfo(
        code="test", site_code="site", specialty="cardiology", name={"fr": "Test", "en": "Test"}, aliases={},
        description={}, building="B", floor="2", location={}, phone="", open_all_hours=open_all_hours,
        hours=slots, what_to_bring={}, visiting_hours={}, accepts_appointments=True, practitioners=(), exams=(),
    )


WEEKDAYS = {day: [("08:30", "12:30"), ("13:30", "18:00")] for day in range(5)}


@pytest.mark.parametrize(("hours", "french", "english"), [
    (WEEKDAYS | {5: [("09:00", "12:00")]},
     "du lundi au vendredi : 8h30–12h30 et 13h30–18h ; samedi : 9h–12h ; fermé le dimanche",
     "Monday to Friday: 8:30 am–12:30 pm and 1:30 pm–6 pm; Saturday: 9 am–12 pm; closed on Sunday"),
    (WEEKDAYS,
     "du lundi au vendredi : 8h30–12h30 et 13h30–18h ; fermé le week-end",
     "Monday to Friday: 8:30 am–12:30 pm and 1:30 pm–6 pm; closed at weekends"),
    ({0: [("09:00", "17:00")], 1: [("09:00", "17:00")], 3: [("09:00", "17:00")], 2: [("09:00", "12:00")],
      5: [("09:00", "12:00")]},
     "lundi, mardi et jeudi : 9h–17h ; mercredi et samedi : 9h–12h ; fermé le vendredi et le dimanche",
     "Monday, Tuesday and Thursday: 9 am–5 pm; Wednesday and Saturday: 9 am–12 pm; closed on Friday and Sunday"),
    ({0: [("09:00", "17:00")], 1: [("09:00", "17:00")], 2: [("09:00", "17:00")], 3: [("09:00", "17:00")]},
     "du lundi au jeudi : 9h–17h ; fermé du vendredi au dimanche",
     "Monday to Thursday: 9 am–5 pm; closed from Friday to Sunday"),
    ({day: [("07:00", "23:59:59")] for day in range(7)},
     "du lundi au dimanche : 7h–minuit", "Monday to Sunday: 7 am–midnight"),
])
def test_hours_are_grouped_by_day_in_the_patients_language(hours, french, english) -> None:
    service = service_with(hours)
    assert format_hours(service, "fr") == french
    assert format_hours(service, "en") == english


def test_round_the_clock_services_say_so(demo_directory: Directory) -> None:
    emergency = demo_directory.service("urgences")
    assert format_hours(emergency, "fr") == "24 h/24, 7 j/7"
    assert format_hours(emergency, "en") == "24/7"


def test_the_demo_hours_read_naturally(demo_directory: Directory) -> None:
    assert format_hours(demo_directory.service("cardiologie"), "fr") == (
        "du lundi au vendredi : 8h30–12h30 et 13h30–18h ; fermé le week-end")
    assert format_hours(demo_directory.service("radiologie"), "en") == (
        "Monday to Friday: 7:30 am–7:30 pm; Saturday: 8 am–12:30 pm; closed on Sunday")
    assert format_hours(demo_directory.service("urologie"), "fr") == (
        "du lundi au mercredi et vendredi : 8h30–12h30 et 13h30–17h ; jeudi : 8h30–12h30 ; fermé le week-end")


@pytest.mark.parametrize(("clock", "french", "english"), [
    (time(0, 0), "0h", "midnight"), (time(8, 30), "8h30", "8:30 am"), (time(12, 0), "12h", "12 pm"),
    (time(12, 15), "12h15", "12:15 pm"), (time(18, 0), "18h", "6 pm"), (time(23, 59, 59), "minuit", "midnight"),
])
def test_times_are_written_the_local_way(clock: time, french: str, english: str) -> None:
    assert format_time(clock, "fr") == french
    assert format_time(clock, "en") == english


@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2025, 1, 6, 10, 0, tzinfo=PARIS), True),  # Monday morning
    (datetime(2025, 1, 6, 12, 45, tzinfo=PARIS), False),  # lunch break
    (datetime(2025, 1, 6, 13, 30, tzinfo=PARIS), True),  # opening time is open
    (datetime(2025, 1, 6, 18, 0, tzinfo=PARIS), False),  # closing time is closed
    (datetime(2025, 1, 11, 10, 0, tzinfo=PARIS), False),  # Saturday
    (datetime(2025, 1, 6, 7, 45, tzinfo=UTC), True),  # 8:45 in Paris in winter (UTC+1)
    (datetime(2025, 1, 6, 7, 15, tzinfo=UTC), False),  # 8:15 in Paris
    (datetime(2025, 7, 7, 6, 45, tzinfo=UTC), True),  # 8:45 in Paris in summer (UTC+2)
    (datetime(2025, 7, 7, 16, 15, tzinfo=UTC), False),  # 18:15 in Paris
    (datetime(2025, 1, 6, 10, 0), True),  # naive: Paris wall-clock time
])
def test_open_or_closed_in_paris_time(demo_directory: Directory, moment: datetime, expected: bool) -> None:
    assert is_open(demo_directory.service("cardiologie"), moment) is expected


def test_round_the_clock_services_are_always_open(demo_directory: Directory) -> None:
    for moment in (datetime(2025, 1, 5, 3, 0, tzinfo=PARIS), datetime(2025, 12, 25, 23, 30, tzinfo=PARIS)):
        assert is_open(demo_directory.service("urgences-pediatriques"), moment)
        assert is_open(demo_directory.service("maternite"), moment)


def test_open_until_midnight_includes_the_last_second() -> None:
    late = service_with({4: [("20:00", "23:59:59")]})
    assert is_open(late, datetime(2025, 1, 10, 23, 59, 59, 500000, tzinfo=PARIS))
    assert not is_open(late, datetime(2025, 1, 10, 19, 59, tzinfo=PARIS))


def test_the_location_reads_as_a_sentence_without_a_final_full_stop(demo_directory: Directory) -> None:
    cardiology = demo_directory.service("cardiologie")
    assert format_location(cardiology, "fr") == (
        "Bâtiment B, 2e étage. Depuis le hall d'accueil, suivez la ligne rouge au sol jusqu'à la passerelle vers "
        "le bâtiment B, puis prenez les ascenseurs B jusqu'au 2e étage ; le secrétariat est à droite")
    assert format_location(cardiology, "en").startswith("Building B, 2nd floor. From the main hall, follow the red line")
    assert format_location(demo_directory.service("urgences"), "fr").startswith("Bâtiment D, rez-de-chaussée. Entrée")
    assert format_location(demo_directory.service("medecine-polyvalente"), "en").startswith("Building A, 1st floor.")
    basement = cardiology.model_copy(update={"floor": "-1", "location": {}})
    assert format_location(basement, "fr") == "Bâtiment B, niveau -1 (sous-sol)"
    assert format_location(basement, "en") == "Building B, basement level -1"


def test_service_lists_are_alphabetical_in_the_patients_language(demo_directory: Directory) -> None:
    french = format_service_list(demo_directory.services, "fr")
    english = format_service_list(demo_directory.services, "en")
    assert french.startswith("Cardiologie, Dermatologie, Gastro-entérologie, Gynécologie, Laboratoire")
    assert french.endswith(" et Urologie") and english.endswith(" and Urology")
    assert english.startswith("Cardiology, Dermatology, Emergency department (adults), ENT")
    picked = [demo_directory.service("urologie"), demo_directory.service("cardiologie")]
    assert format_service_list(picked, "fr") == "Cardiologie et Urologie"
    assert format_service_list(picked[:1], "en") == "Urology"


# ---------------------------------------------------------------- as the practical answers use it


def test_a_practical_answer_comes_from_the_directory(demo_directory: Directory) -> None:
    from bot.hospital.practical import answer_practical

    answer = answer_practical(demo_directory, "ask_hours", "c quoi les horaires de la cardio stp", "fr")
    [utterance] = answer.utterances
    assert utterance.response == "utter_hours"
    assert utterance.variables["service"] == "Cardiologie"
    assert utterance.variables["hours"].startswith("du lundi au vendredi")
    assert answer.slots["service"] == "cardiologie"

    answer = answer_practical(demo_directory, "ask_hours", "horaires des urgences", "fr")
    [utterance] = answer.utterances
    assert utterance.response == "utter_service_ambiguous"
    assert [b["title"] for b in utterance.buttons] == ["Urgences adultes", "Urgences pédiatriques"]
