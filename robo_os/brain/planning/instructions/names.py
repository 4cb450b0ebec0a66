"""Phrases to the catalogue's names: places, robots, receptacles and object phrases
with quantifiers, attributes, categories and exclusions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from robo_os_memory.models import ObjectState

from ..catalogue import Catalogue
from ..goal_resolution import is_receptacle
from .words import (
    ALL,
    ARTICLES,
    CATEGORIES,
    EXCEPT,
    FILLER_NAMES,
    FILTER_PREPS,
    GENERIC,
    NUMBERS,
    ONE_OF,
    PRONOUNS,
    VAGUE,
    digits,
    join,
    singulars,
    split_list,
    starts,
    strip,
)

__all__ = ["Ambiguous", "Resolver", "Unknown"]


class Unknown(Exception):
    """What the parser could not read, in words for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Ambiguous(Unknown):
    """A phrase fits several things: more telling than "unknown" wherever it is read."""


class Resolver:
    """Turns phrases into the catalogue's names; raises Unknown naming what failed."""

    def __init__(self, cat: Catalogue) -> None:
        self.cat = cat
        self.notes: list[str] = []
        self.excluded: list[str] = []  # objects an exclusion left out: kept in place
        self.quantified = False  # the last object phrase was a quantifier or a plural
        self.lexicon = self._lexicon()
        self.place_words = {w for p in cat.places for w in p.lower().split("_")}

    def _lexicon(self) -> set[str]:
        words: set[str] = set()
        for name in self.cat.all_names:
            words |= set(re.split(r"[^a-z0-9]+", name.lower()))
        for o in self.cat.objects.values():
            words |= set(o.type.lower().split("_"))
            words |= {
                w
                for v in o.attrs.values()
                if isinstance(v, str)
                for w in re.split(r"[\s,;_]+", v.lower())
            }
            words |= set(self._categories(o))
        for r in self.cat.robots.values():
            words |= set(r.embodiment.lower().split("_"))
        for p in self.cat.places.values():
            words |= set(p.kind.lower().split("_"))
        return words

    # -- robots --
    def robots_at(self, words: Sequence[str], i: int) -> tuple[list[str], int]:
        """The robots named from words[i] on ("mm1", "the arm", "arm1 and carrier1") and
        the index after them; ([], i) when none is named there."""
        found: list[str] = []
        j = i
        while True:
            k = j
            while k < len(words) and words[k] in ("the", "robot", "robots"):
                k += 1
            got = self._robot(words, k)
            if got is None:
                break
            rid, k = got
            found.append(rid)
            j = k
            while j < len(words) and words[j] in ("robot", "robots"):
                j += 1
            if j < len(words) and words[j] in ("and", ",", "or"):
                nxt = j + 1
                while nxt < len(words) and words[nxt] in ("the", "robot", "robots", "and"):
                    nxt += 1
                if self._robot(words, nxt) is not None:
                    j += 1
                    continue
            break
        return (found, j) if found else ([], i)

    def _robot(self, words: Sequence[str], k: int) -> tuple[str, int] | None:
        if k >= len(words):
            return None
        ids = {r.lower(): r for r in self.cat.robots}
        if words[k] in ids:
            return ids[words[k]], k + 1
        for n in (2, 1):  # "mobile manipulator", "arm", "carrier"
            phrase = words[k : k + n]
            if len(phrase) < n or (n == 1 and phrase[0] in self.place_words):
                continue
            hits = [
                r.id
                for r in self.cat.robots.values()
                if "_".join(phrase) == r.embodiment.lower()
                or (n == 1 and phrase[0] in r.embodiment.lower().split("_"))
                or (n == 1 and phrase[0] in r.id.lower().split("_"))
                or (n == 1 and len(phrase[0]) > 2 and r.id.lower().startswith(phrase[0]))
            ]
            if len(hits) == 1:
                return hits[0], k + n
        return None

    # -- places, robots and receptacles as where things go --
    def where(self, words: Sequence[str], role: str = "destination") -> str:
        """A place, robot or receptacle object; Unknown otherwise."""
        words = strip(words, ARTICLES | {","})
        while words[:1] in (["a"], ["an"]):
            words = words[1:]
        phrase = join(words)
        if not words or set(words) <= VAGUE:
            raise Unknown(
                f"the instruction does not say which {role} ({phrase or 'nothing'!r}); "
                f"name one: {self.listing('place')}"
            )
        if words[0] == "where" and len(words) > 1:  # "where the apple is"
            said = [w for w in words[1:] if w not in ("is", "are", "was", "were", "stands")]
            found = self.objects(said, single=True)
            spot = self.location(found[0]) if found else None
            if spot is None:
                raise Unknown(f"{join(said)!r} is not resting anywhere memory knows")
            return spot
        places = {p.lower(): p for p in self.cat.places}
        for variant in (words, strip(words, FILLER_NAMES)):
            key = "_".join(digits(variant))
            if key in places:
                return places[key]
        ids = {r.lower(): r for r in self.cat.robots}
        if len(words) == 1 and words[0] in ids:
            return ids[words[0]]
        for variant in (words, strip(words, FILLER_NAMES)):
            got = self.place_named(digits(variant))
            if got is not None:
                return got
        robots, end = self.robots_at(words, 0)
        if len(robots) == 1 and end == len(words):
            return robots[0]
        try:
            objects = self.objects(words, single=True)
        except Ambiguous:
            raise
        except Unknown:
            objects = []
        if objects:
            return objects[0]
        key = "_".join(digits(strip(words, FILLER_NAMES)) or words)
        pool = [*self.cat.places, *self.cat.robots, *self.cat.objects]
        close = difflib.get_close_matches(key, pool, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise Unknown(f"unknown {role} {phrase!r}{hint} ({self.listing('place')})")

    def place_named(self, words: Sequence[str]) -> str | None:
        if not words:
            return None
        places = {p.lower(): p for p in self.cat.places}
        key = "_".join(words)
        if key in places:
            return places[key]
        parts = {p: set(p.lower().split("_")) for p in self.cat.places}
        partial = [p for p, ps in parts.items() if set(words) <= ps]
        kinds = [p.name for p in self.cat.places.values() if p.kind.lower() == key]
        for found in (partial, kinds):
            if len(found) == 1:
                self.notes.append(f"read {join(words)!r} as {found[0]}")
                return found[0]
            if len(found) > 1:
                raise Ambiguous(
                    f"{join(words)!r} is ambiguous: did you mean "
                    f"{', '.join(repr(p) for p in found)}?"
                )
        return None

    # -- objects --
    @staticmethod
    def _categories(o: ObjectState) -> list[str]:
        own: list[str] = []
        for key in ("category", "categories", "tags", "tag"):
            value = o.attrs.get(key)
            if isinstance(value, str):
                own += [t.strip().lower() for t in re.split(r"[,;]", value) if t.strip()]
        builtin = [c for c, types in CATEGORIES.items() if o.type.lower() in types]
        return own + builtin

    def is_receptacle(self, name: str) -> bool:
        return is_receptacle(self.cat, name)

    def location(self, name: str) -> str | None:
        o = self.cat.objects[name]
        return o.held_by or o.on

    def objects(
        self,
        words: Sequence[str],
        *,
        single: bool = False,
        previous: Sequence[str] = (),
        group: Sequence[str] = (),
        scope: Sequence[str] | None = None,
        source: str | None = None,
        dest: str | None = None,
    ) -> list[str]:
        """The objects an object phrase denotes (see the module docstring). `single`:
        the phrase must name exactly one (destinations); `scope`: the set "one"/"ones"
        refer to (exclusions); `source`: a "from Z" said elsewhere in the clause."""
        words = [w for w in words if w != ","]
        excluded: list[str] = []
        for seq in EXCEPT:
            at = next((i for i in range(len(words)) if starts(words, i, seq)), None)
            if at is not None and at > 0:
                excluded_words = words[at + len(seq) :]
                words = words[:at]
                break
        else:
            excluded_words = []
        words, where = self._filter(words)
        if where is None:
            where = source
        words, count, quantified = _quantifier(strip(words, ARTICLES))
        if not words:
            if quantified or count is not None:
                words = ["things"]
            else:
                return []
        if words[0] in PRONOUNS and len(words) == 1:
            if words[0] != "it" and len(previous) < 2 and len(group) >= 2:
                previous = group
            if not previous:
                raise Unknown(
                    f"{words[0]!r} refers to nothing named before; name the object "
                    f"({', '.join(self.cat.objects)})"
                )
            return list(previous)
        if words[0] in PRONOUNS:
            raise Unknown(
                f"the instruction does not say where {join(words[1:])!r} is; name a place "
                f"({', '.join(self.cat.places)})"
            )
        phrase = join(words)
        cands, plural, named = self._match(words, scope)
        self.quantified = bool(quantified or plural or count is not None) and not single
        if not cands:
            key = "_".join(words)
            close = difflib.get_close_matches(key, list(self.cat.objects), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise Unknown(
                f"unknown object {phrase!r}{hint} (objects: {', '.join(self.cat.objects)})"
            )
        if dest is not None and dest in cands:
            if len(cands) == 1:
                raise Unknown(f"{dest} cannot be put on or in itself")
            cands = [c for c in cands if c != dest]  # "everything into the bowl"
        if where is not None:
            here = [c for c in cands if self.location(c) == where]
            if named or (len(cands) == 1 and not (quantified or plural or count)):
                for c in cands:
                    if self.location(c) != where:
                        self.notes.append(
                            f"{c} is on {self.location(c)}, not on {where}; "
                            "it is taken from where it is"
                        )
            else:
                if not here:
                    raise Unknown(f"there is no {phrase} on {where}")
                cands = here
        for ex in split_list(excluded_words):
            got = self.objects(ex, scope=cands)
            missing = [g for g in got if g not in cands]
            if missing:
                self.notes.append(f"{', '.join(missing)} would not have been moved anyway")
            excluded += got
        cands = [c for c in cands if c not in excluded]
        self.excluded.extend(e for e in excluded if e not in self.excluded)
        if single or (not (quantified or plural) and count is None):
            if len(cands) > 1:
                if single:
                    raise Ambiguous(f"{phrase!r} is ambiguous: {', '.join(cands)}; name one")
                raise Ambiguous(
                    f"{phrase!r} is ambiguous: {', '.join(cands)}; name one, "
                    f"or say 'all the {phrase}s' or 'a {phrase}'"
                )
            return cands
        if count is not None:
            if len(cands) < count:
                raise Unknown(
                    f"there are only {len(cands)} {phrase} ({', '.join(cands) or 'none'}), "
                    f"not {count}"
                )
            if len(cands) > count:
                away = [c for c in cands if self.location(c) != dest] + [
                    c for c in cands if self.location(c) == dest
                ]
                cands = sorted(away[:count])
                self.notes.append(f"read {phrase!r} ({count}) as {', '.join(cands)}")
        if not cands:
            raise Unknown(f"no object is left for {phrase!r} after the exclusions")
        return cands

    def _filter(self, words: list[str]) -> tuple[list[str], str | None]:
        """Split "... on|in|from Z" off an object phrase when Z is where things rest."""
        for i in range(len(words) - 1, 0, -1):
            if words[i] not in FILTER_PREPS:
                continue
            tail = words[i + 1 :]
            if words[i] == "off" and tail[:1] == ["of"]:
                tail = tail[1:]
            try:
                return words[:i], self.where(tail, "place")
            except Unknown:
                if words[i] in ("from", "off"):
                    raise  # "from Z" can only name where things are
                continue
        return words, None

    def _match(self, words: list[str], scope: Sequence[str] | None) -> tuple[list[str], bool, bool]:
        """(candidates, plural, named exactly) for the noun phrase."""
        objects = self.cat.objects
        lowered = {n.lower(): n for n in objects}
        for variant in (words, digits(words)):
            key = "_".join(variant)
            if key in lowered:
                return [lowered[key]], False, True
            singular = "_".join([*variant[:-1], singulars(variant[-1])[-1]])
            if singular in lowered and singular != key and not self._is_type(key):
                return [lowered[singular]], False, True
        pool = list(scope) if scope is not None else list(objects)
        for k in range(len(words), 0, -1):
            noun, adjs = words[-k:], words[:-k]
            forms = ["_".join([*noun[:-1], f]) for f in singulars(noun[-1])]
            plural = False
            found: list[str] = []
            if noun == ["one"] or noun == ["ones"]:
                found = pool
                plural = noun == ["ones"]
            elif len(noun) == 1 and noun[0] in GENERIC:
                found = pool
                plural = True
            else:
                for form in forms:
                    plural = form != forms[0]  # "cups" found as "cup"
                    found = [o for o in pool if objects[o].type.lower() == form]
                    if not found:
                        # a category is a collective noun: "the fruit" is all of it
                        found = [o for o in pool if form in self._categories(objects[o])]
                        plural = plural or bool(found)
                    if not found:
                        parts = set(form.split("_"))
                        found = [o for o in pool if parts <= set(o.lower().split("_"))]
                    if found:
                        break
            if not found:
                continue
            if adjs:
                fit = [o for o in found if all(self._has(objects[o], a) for a in adjs)]
                if not fit:
                    described = ", ".join(f"{o} ({self._describe(objects[o])})" for o in found)
                    raise Unknown(f"no object is {join(words)!r}: {described}")
                found = fit
            return found, plural, False
        return [], False, False

    def _types(self) -> set[str]:
        return {o.type.lower() for o in self.cat.objects.values()}

    def _is_type(self, key: str) -> bool:
        return key in self._types()

    @staticmethod
    def _has(o: ObjectState, adj: str) -> bool:
        values = {
            w
            for v in o.attrs.values()
            if isinstance(v, str)
            for w in re.split(r"[\s,;]+", v.lower())
        }
        return adj in values or adj in o.name.lower().split("_")

    @staticmethod
    def _describe(o: ObjectState) -> str:
        said = [str(v) for k, v in o.attrs.items() if isinstance(v, str) and k != "home"]
        return ", ".join(said) or o.type

    def listing(self, kind: str) -> str:
        return f"{kind}s: {', '.join(self.cat.names(kind)) or 'none'}"

    def home(self, name: str) -> str | None:
        value = self.cat.objects[name].attrs.get("home")
        if not isinstance(value, str) or not value:
            return None
        if value not in self.cat.places and value not in self.cat.objects:
            raise Unknown(f"{name}'s home {value!r} is not a place in memory")
        return value


def _quantifier(words: list[str]) -> tuple[list[str], int | None, bool]:
    """(the rest, how many, whether "all") of an object phrase's leading quantifier
    words: "all the", "every", "both", "two", "a", "any"."""
    count: int | None = None
    quantified = False
    while words:
        w = words[0]
        if w in ALL:
            quantified = True
            if w in ("everything", "anything"):
                break  # the noun itself
        elif w == "both" and len(words) > 1:
            count = 2
        elif w in ONE_OF and not (w == "one" and len(words) == 1):
            count = 1
        elif w.isdigit() or (w in NUMBERS and w != "one"):
            count = int(w) if w.isdigit() else NUMBERS[w]
            if count == 0:
                raise Unknown(f"{join(words)!r}: zero objects is nothing to move")
        else:
            break  # "both" alone is a pronoun, "one" alone a noun
        words = strip(words[1:], ARTICLES)
    return words, count, quantified
