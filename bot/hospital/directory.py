"""The hospital directory the assistant answers from: services, hours, exams, the site itself.

`load_directory` reads the database once into frozen records (bot.hospital.schemas: the shape the
hospital file describes too), so actions never touch an ORM object (no lazy loading in async code,
no session kept open) and can share one snapshot across requests; `get_directory` keeps that
snapshot for a minute per process.

Service and exam names are found in whole sentences as patients type them ("c quoi les horaires
de la cardio stp", "where is the eye clinic"): words are folded (no accents, lower case), function
words dropped, then every run of up to a few words is compared with rapidfuzz to every name and
alias in every language. The longest, closest match wins; a word several services share
("urgences") makes the match ambiguous, so the patient is asked to choose.
"""

from __future__ import annotations

import logging
import re
import time as clock
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from operator import attrgetter
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.core.datafiles import fold, load, localized
from bot.core.language import default_language, supported_languages
from bot.hospital.models import Service, Site
from bot.hospital.schemas import END_OF_DAY, ExamBase, ExamInfo, OpeningSlot, ServiceBase, ServiceInfo, SiteInfo

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")

MatchStatus = Literal["found", "ambiguous", "none"]


# ---------------------------------------------------------------- the snapshot


@dataclass(frozen=True)
class ServiceMatch:
    status: MatchStatus
    services: tuple[ServiceInfo, ...] = ()

    @property
    def service(self) -> ServiceInfo | None:
        """The service found, or None when there is none or several."""
        return self.services[0] if self.status == "found" else None


@dataclass(frozen=True)
class ExamMatch:
    status: MatchStatus
    exams: tuple[ExamInfo, ...] = ()

    @property
    def exam(self) -> ExamInfo | None:
        return self.exams[0] if self.status == "found" else None


class EmptyDirectoryError(RuntimeError):
    """The database holds no hospital yet."""


@dataclass(frozen=True)
class Directory:
    """What the hospital is, as the assistant answers about it. Immutable: share it freely.

    Localized texts are {"fr": ..., "en": ...} mappings private to this snapshot; treat them as
    read-only.
    """

    sites: tuple[SiteInfo, ...]
    services: tuple[ServiceInfo, ...]
    exams: tuple[ExamInfo, ...]
    _service_terms: _TermIndex = field(init=False, repr=False, compare=False)
    _exam_terms: _TermIndex = field(init=False, repr=False, compare=False)
    _services_by_code: dict[str, ServiceInfo] = field(init=False, repr=False, compare=False)
    _exams_by_code: dict[str, ExamInfo] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sites:
            raise EmptyDirectoryError("the hospital directory is empty: run `python -m bot seed`")
        # Frozen dataclass: the indexes are derived once, here, hence object.__setattr__.
        object.__setattr__(self, "_services_by_code", {s.code: s for s in self.services})
        object.__setattr__(self, "_exams_by_code", {e.code: e for e in self.exams})
        object.__setattr__(self, "_service_terms", _TermIndex(_named_things(self.services)))
        object.__setattr__(self, "_exam_terms", _TermIndex(_named_things(self.exams)))

    @property
    def site(self) -> SiteInfo:
        """The main site: today's hospitals in this project have one."""
        return self.sites[0]

    def service(self, code: str) -> ServiceInfo | None:
        return self._services_by_code.get(code)

    def exam(self, code: str) -> ExamInfo | None:
        return self._exams_by_code.get(code)

    def services_for_specialty(self, specialty: str) -> tuple[ServiceInfo, ...]:
        return tuple(s for s in self.services if s.specialty == specialty)

    def match_service(self, text: str, language: str) -> ServiceMatch:
        status, codes = self._service_terms.match(text, language)
        return ServiceMatch(status, tuple(self._services_by_code[c] for c in codes))

    def match_exam(self, text: str, language: str) -> ExamMatch:
        status, codes = self._exam_terms.match(text, language)
        return ExamMatch(status, tuple(self._exams_by_code[c] for c in codes))


# ---------------------------------------------------------------- loading and caching


async def load_directory(session: AsyncSession) -> Directory:
    """Read the whole directory (a handful of queries, eager loading); nothing is loaded lazily afterwards."""
    sites = (await session.scalars(select(Site).order_by(Site.id))).all()
    services = (
        await session.scalars(
            select(Service)
            .options(
                selectinload(Service.site),
                selectinload(Service.hours),
                selectinload(Service.practitioners),
                selectinload(Service.exams),
            )
            .order_by(Service.id)
        )
    ).all()
    service_infos = tuple(info for service in services if (info := _readable(service)) is not None)
    return Directory(
        sites=tuple(SiteInfo.model_validate(site, from_attributes=True) for site in sites),
        services=service_infos,
        exams=tuple(exam for service in service_infos for exam in service.exams),
    )


# One snapshot per sessionmaker (that is, per database): tests and tools may use several.
_cache: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], tuple[float, Directory]] = (
    weakref.WeakKeyDictionary()
)


async def get_directory(sessionmaker: async_sessionmaker[AsyncSession], max_age: float = 60.0) -> Directory:
    """The directory, read again at most every `max_age` seconds.

    The hospital's data changes rarely (a seed, an admin edit), while every practical answer needs
    it. Two requests arriving when the snapshot expires may both reload it: harmless, and simpler
    than a lock bound to one event loop.
    """
    now = clock.monotonic()
    cached = _cache.get(sessionmaker)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    async with sessionmaker() as session:
        directory = await load_directory(session)
    _cache[sessionmaker] = (now, directory)
    return directory


def invalidate() -> None:
    """Forget every cached snapshot: the next `get_directory` reads the database (after a seed)."""
    _cache.clear()


def _readable(service: Service) -> ServiceInfo | None:
    """A row an administrator broke (a blank name, a code with capitals) is left out and logged:
    one bad row must not take every practical answer down with it."""
    try:
        return _service_info(service)
    except ValidationError as error:
        problems = ", ".join(".".join(str(p) for p in e["loc"]) or "row" for e in error.errors()[:5])
        log.error("directory: service row %s (%r) left out, invalid: %s", service.id, service.code[:40], problems)
        return None


def _service_info(service: Service) -> ServiceInfo:
    # PostgreSQL returns a collection's rows in no set order; by id is the order the seed wrote them.
    by_id = attrgetter("id")
    return ServiceInfo.model_validate(
        _fields(service, ServiceBase) | {
            "site_code": service.site.code,
            "hours": sorted(service.hours, key=attrgetter("weekday", "opens")),
            "practitioners": sorted(service.practitioners, key=by_id),
            "exams": [
                _fields(exam, ExamBase) | {"service_code": service.code} for exam in sorted(service.exams, key=by_id)
            ],
        },
        from_attributes=True,
    )


def _fields(row: object, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in model.model_fields}


# ---------------------------------------------------------------- finding names in sentences

# Words that never name a service: articles, prepositions, pronouns, question words, and the
# generic "service"/"department", so that "le service de cardiologie" and "cardiologie" compare
# alike. Dropped from the patient's text and from names and aliases alike.
STOPWORDS = frozenset(
    """
    a au aux c ca ce ces cet cette chez d dans de des du elle en est et il j je l la le les leur m ma me
    mes mon n ne nos notre on ou par pour qu que quel quelle quelles quels qui quoi s sa se ses son sur t ta
    te tes ton tu un une vos votre vous y
    an and are at do does for how i in is it its me my of on or our the their this to what when where which
    who with you your
    service services departement department dept
    """.split()
)

# Ordinary words close in spelling to a name, or generic ones: on their own they may match an
# alias exactly, never fuzzily ("urgente" is not a typo of "urgence", "hear" is not "heart",
# "adulte" is not "adult er", "clinic" is not "gi clinic").
ORDINARY_WORDS = frozenset(
    """
    urgent urgente urgents urgentes heure heures horaire horaires rendez bonjour bonsoir merci ouvert ouverte
    ouverts ferme fermee numero telephone adresse hopital hopitaux docteur medecin medecins visite visites
    parking infirmier infirmiere chambre examen examens consultation consultations clinique unite centre
    adulte adultes enfant enfants bebe
    hear here hour hours open opened opening closed phone number address hospital doctor doctors nurse
    visit visits visiting appointment exam exams room clinic ward unit center adult adults child children
    kid kids childrens baby
    """.split()
)

# Set phrases in which a service's name is an ordinary word: "un rdv en urgence", "numéro
# d'urgence", "in an emergency". Their words are dropped before matching.
IDIOMS: tuple[tuple[str, ...], ...] = (
    ("en", "urgence"),
    ("d", "urgence"),
    ("in", "an", "emergency"),
    ("case", "of", "emergency"),
    ("case", "of", "an", "emergency"),
)

MAX_WORDS = 120  # a practical question names its service early; a 5,000-character message is not read whole
_WORD = re.compile(r"[a-z0-9]+")
_A_AND_E = re.compile(r"\ba\s*&\s*e\b")


def words(text: str) -> list[str]:
    """Folded words: no accents, no case, ligatures opened ("œil" → "oeil"), "A&E" kept whole."""
    folded = fold(text).replace("œ", "oe").replace("æ", "ae")
    return _WORD.findall(_A_AND_E.sub(" ae ", folded))


def content_words(text: str) -> list[str]:
    """The words that can name something: idioms and function words dropped."""
    return [word for word in _without_idioms(words(text)) if word not in STOPWORDS]


def _without_idioms(tokens: list[str]) -> list[str]:
    kept: list[str] = []
    index = 0
    while index < len(tokens):
        idiom = next((i for i in IDIOMS if tuple(tokens[index:index + len(i)]) == i), None)
        if idiom:
            index += len(idiom)
        else:
            kept.append(tokens[index])
            index += 1
    return kept


def _fuzzy_threshold(length: int) -> float:
    """How close a typo must be. Short names must match exactly ("orl", "ent", "psy"); 4–5
    letters allow one missing or extra letter ("cardo"), longer ones a wrong letter ("kardio",
    "cardiolgie")."""
    if length <= 3:
        return 101.0  # never fuzzy
    if length <= 5:
        return 90.0
    if length <= 8:
        return 80.0  # one wrong letter in six ("kardio")
    return 85.0  # long names share long stems ("radiologie", "cardiologie"): a letter or two, not three


@dataclass(frozen=True)
class _Term:
    owner: str  # the service or exam code
    key: str  # its content words, joined without spaces so "gastro enterologie" = "gastroenterologie"
    core: str  # the same without ordinary words: "eye doctor" → "eye"
    size: int  # number of content words
    language: str
    rank: int  # position of the owner in the directory: the hospital's own order breaks ties


@dataclass(frozen=True)
class _Hit:
    owner: str
    start: int
    end: int
    weight: float
    language: str
    rank: int

    def overlaps(self, other: _Hit) -> bool:
        return self.start < other.end and other.start < self.end


def _named_things(things: Iterable[ServiceInfo | ExamInfo]) -> list[tuple[str, str, str, int]]:
    """(code, language, phrase, rank) for every name and alias of every thing."""
    phrases = []
    for rank, thing in enumerate(things):
        for language, name in thing.name.items():
            phrases.append((thing.code, language, name, rank))
        for language, aliases in thing.aliases.items():
            phrases.extend((thing.code, language, alias, rank) for alias in aliases)
    return phrases


class _TermIndex:
    """Every name and alias of a kind of thing (services, exams), ready to be found in a sentence."""

    def __init__(self, phrases: Iterable[tuple[str, str, str, int]]) -> None:
        terms: dict[tuple[str, str], _Term] = {}
        for owner, language, phrase, rank in phrases:
            tokens = content_words(phrase)
            if tokens:
                key = "".join(tokens)
                core = "".join(t for t in tokens if t not in ORDINARY_WORDS)
                terms.setdefault((owner, key), _Term(owner, key, core, len(tokens), language, rank))
        self.terms = list(terms.values())
        self.keys = [term.key for term in self.terms]
        self.exact: dict[str, list[_Term]] = {}
        for term in self.terms:
            self.exact.setdefault(term.key, []).append(term)
        # A window may hold one word more than the longest name: "gastro entero logie".
        self.max_size = max((term.size for term in self.terms), default=0) + 1

    def match(self, text: str, language: str) -> tuple[MatchStatus, list[str]]:
        tokens = content_words(text)[:MAX_WORDS]
        accepted = _keep_best(self._hits(tokens), language)
        owners: list[str] = []
        for hit in accepted:
            if hit.owner not in owners:
                owners.append(hit.owner)
        if not owners:
            return "none", []
        return ("found" if len(owners) == 1 else "ambiguous"), owners

    def _hits(self, tokens: list[str]) -> list[_Hit]:
        best: dict[tuple[str, int, int], _Hit] = {}
        for start in range(len(tokens)):
            for end in range(start + 1, min(len(tokens), start + self.max_size) + 1):
                for hit in self._hits_for_window(tokens, start, end):
                    slot = (hit.owner, hit.start, hit.end)
                    if slot not in best or hit.weight > best[slot].weight:
                        best[slot] = hit
        return list(best.values())

    def _hits_for_window(self, tokens: list[str], start: int, end: int) -> Iterable[_Hit]:
        window = "".join(tokens[start:end])
        for term in self.exact.get(window, ()):
            yield _Hit(term.owner, start, end, float(len(window)), term.language, term.rank)
        if len(window) < 4 or (end - start == 1 and tokens[start] in ORDINARY_WORDS):
            return
        candidates = process.extract(window, self.keys, scorer=fuzz.ratio, score_cutoff=80.0, limit=None)
        for key, score, index in candidates:
            term = self.terms[index]
            # A typo, not a part: "clinic" is not "gi clinic", "consultation" not "consultation des yeux".
            if score >= 100.0 or score < _fuzzy_threshold(len(key)) or end - start < term.size:
                continue
            if not _same_core(tokens[start:end], term.core):
                continue  # the typo is in the words that matter: "see doctor" is not "eye doctor"
            distance = Indel.distance(window, key)
            common = (len(window) + len(key) - distance) / 2
            # Letters in common minus letters wrong: a longer name typed with a typo beats a shorter
            # one typed exactly ("urgence pediatrique" beats "urgences"), an exact name beats its close
            # neighbour ("urologie" is not "neurologie", "radiology" not "cardiology").
            weight = common - distance
            if weight >= len(key) / 2:
                yield _Hit(term.owner, start, end, weight, term.language, term.rank)


def _same_core(window_tokens: list[str], core: str) -> bool:
    """Whether the window's meaningful words match the term's, allowing a typo in long ones."""
    if not core:
        return False  # a term made only of ordinary words is only ever matched exactly
    typed = "".join(t for t in window_tokens if t not in ORDINARY_WORDS)
    return typed == core or fuzz.ratio(typed, core) >= _fuzzy_threshold(len(core))


def _keep_best(hits: list[_Hit], language: str) -> list[_Hit]:
    """The strongest non-overlapping hits, strongest first.

    A hit overlapping a stronger or longer one is dropped ("urgences pédiatriques" hides
    "urgences"), unless it is just as strong on exactly the same words for another thing: then
    those words are ambiguous ("urgences" alone).
    """
    ordered = sorted(hits, key=lambda h: (-h.weight, h.start - h.end, h.language != language, h.rank, h.start))
    accepted: list[_Hit] = []
    for hit in ordered:
        clashes = [other for other in accepted if other.overlaps(hit)]
        if all(
            (other.start, other.end, other.weight) == (hit.start, hit.end, hit.weight) and other.owner != hit.owner
            for other in clashes
        ):
            accepted.append(hit)
    return accepted


# ---------------------------------------------------------------- what the patient reads

_WEEKEND = (5, 6)


def _lang(language: str) -> str:
    return language if language in supported_languages() else default_language()


def _word(key: str, language: str) -> str:
    return localized(load("formats")[key], language)


def _days(language: str) -> list[str]:
    names: list[str] = load("formats")["days"][language]
    return names


def format_time(value: time, language: str) -> str:
    """8h30, 18h, minuit / 8:30 am, 6 pm, 12 pm, midnight."""
    language = _lang(language)
    if value >= END_OF_DAY:
        return _word("midnight", language)
    if language == "fr":
        return f"{value.hour}h{value.minute:02d}" if value.minute else f"{value.hour}h"
    hour = value.hour % 12 or 12
    suffix = "am" if value.hour < 12 else "pm"
    if value.hour == 0 and value.minute == 0:
        return _word("midnight", language)
    return f"{hour}:{value.minute:02d} {suffix}" if value.minute else f"{hour} {suffix}"


def _join(items: Sequence[str], language: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + _word("and", _lang(language)) + items[-1]


def _runs(days: Sequence[int]) -> list[list[int]]:
    """Consecutive weekdays grouped: [0, 1, 2, 4] → [[0, 1, 2], [4]]."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _days_phrase(days: Sequence[int], language: str, closed: bool = False) -> str:
    """"du lundi au vendredi", "lundi et mercredi", "le samedi et le dimanche" / "Monday to Friday"."""
    language = _lang(language)
    names = _days(language)
    items: list[str] = []
    for run in _runs(days):
        if len(run) >= 3:
            items.append(_word("day_range", language).format(first=names[run[0]], last=names[run[-1]]))
        else:
            items.extend((f"le {names[d]}" if closed and language == "fr" else names[d]) for d in run)
    return _join(items, language)


def _intervals_phrase(slots: Sequence[OpeningSlot], language: str) -> str:
    return _join([f"{format_time(s.opens, language)}–{format_time(s.closes, language)}" for s in slots], language)


def format_hours(service: ServiceInfo, language: str) -> str:
    """Opening hours in a sentence, days with the same hours grouped.

    "du lundi au vendredi : 8h30–12h30 et 13h30–18h ; samedi : 9h–12h ; fermé le dimanche"
    "Monday to Friday: 8:30 am–12:30 pm and 1:30 pm–6 pm; Saturday: 9 am–12 pm; closed on Sunday"
    """
    language = _lang(language)
    if service.open_all_hours:
        return _word("open_all_hours", language)
    if not service.hours:
        return _word("no_hours", language)
    by_day: dict[int, tuple[OpeningSlot, ...]] = {
        day: tuple(s for s in service.hours if s.weekday == day) for day in range(7)
    }
    groups: dict[tuple[tuple[time, time], ...], list[int]] = {}
    for day in range(7):
        if by_day[day]:
            groups.setdefault(tuple((s.opens, s.closes) for s in by_day[day]), []).append(day)
    separator = _word("hours_after_days", language)
    parts = [
        _days_phrase(days, language) + separator + _intervals_phrase(by_day[days[0]], language)
        for days in groups.values()
    ]
    closed = [day for day in range(7) if not by_day[day]]
    if closed:
        parts.append(_closed_phrase(closed, language))
    return _word("between_days", language).join(parts)


def _closed_phrase(days: Sequence[int], language: str) -> str:
    """"fermé le dimanche", "fermé le week-end" / "closed on Sunday", "closed at weekends"."""
    if tuple(days) == _WEEKEND:
        return _word("closed_weekend", language)
    if language == "fr":
        return "fermé " + _days_phrase(days, language, closed=True)
    names = _days("en")
    items: list[str] = []
    for run in _runs(days):
        if len(run) >= 3:
            items.append(f"from {names[run[0]]} to {names[run[-1]]}")
        else:
            items.extend(names[day] for day in run)
    phrase = _join(items, language)
    return "closed " + (phrase if phrase.startswith("from ") else "on " + phrase)


def is_open(service: ServiceInfo, at: datetime | None = None) -> bool:
    """Whether the service is open at `at` (now by default). Hours are Paris wall-clock times; a
    naive `at` is taken as Paris time too."""
    if service.open_all_hours:
        return True
    moment = at or datetime.now(PARIS)
    local = moment.astimezone(PARIS) if moment.tzinfo else moment
    weekday, now = local.weekday(), local.time()
    return any(
        slot.weekday == weekday and slot.opens <= now and (now < slot.closes or slot.closes >= END_OF_DAY)
        for slot in service.hours
    )


def format_floor(floor: str, language: str) -> str:
    """"0" → rez-de-chaussée / ground floor, "2" → 2e étage / 2nd floor, "-1" → niveau -1 (sous-sol)."""
    language = _lang(language)
    try:
        level = int(floor)
    except ValueError:
        return floor
    if level == 0:
        return _word("ground_floor", language)
    if level < 0:
        return _word("basement", language).format(level=level)
    if language == "fr":
        return "1er étage" if level == 1 else f"{level}e étage"
    suffix = "th" if 10 <= level % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(level % 10, "th")
    return f"{level}{suffix} floor"


def format_location(service: ServiceInfo, language: str) -> str:
    """Where the service is inside the hospital, without a final full stop (templates add one):
    "Bâtiment B, 2e étage. Depuis le hall d'accueil, …" / "Building B, 2nd floor. From the main hall, …"."""
    language = _lang(language)
    place = []
    if service.building:
        place.append(_word("building", language).format(building=service.building))
    if service.floor:
        place.append(format_floor(service.floor, language))
    where = ", ".join(place)
    if where:
        where = where[0].upper() + where[1:]
    directions = localized(dict(service.location), language).strip().rstrip(".")
    if directions:
        directions = directions[0].upper() + directions[1:]
    return ". ".join(part for part in (where, directions) if part)


def format_service_list(services: Iterable[ServiceInfo], language: str) -> str:
    """Service names in alphabetical order, as a patient scans a list: "Cardiologie, …, Urologie"."""
    names = sorted((localized(dict(s.name), language) for s in services), key=fold)
    return _join(names, language)
