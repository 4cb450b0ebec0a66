"""The words the embedded instruction parser knows: verbs, prepositions, quantifiers,
fillers, categories, and the small helpers over token lists."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "ADVERBS",
    "ALL",
    "ARTICLES",
    "CATEGORIES",
    "CLEAR",
    "DEST_PREPS",
    "EXCEPT",
    "FILLER_NAMES",
    "FILTER_PREPS",
    "GENERIC",
    "GO",
    "HOLD",
    "HOMING",
    "IRREGULAR",
    "KEEP",
    "LEADING",
    "MOVE",
    "NUMBERS",
    "ONE_OF",
    "OPEN",
    "ORDINALS",
    "PRONOUNS",
    "STAY",
    "STRUCTURE",
    "SWAP",
    "THEN",
    "TIDY",
    "TRAILERS",
    "UNITS",
    "VAGUE",
    "VERBS",
    "digits",
    "join",
    "singulars",
    "split_list",
    "starts",
    "strip",
    "tokens",
]

MOVE = {
    "bring", "put", "move", "take", "carry", "place", "set", "deliver", "transfer", "fetch",
    "get", "return", "drop", "relocate", "send", "serve", "hand", "give", "pass", "load",
    "store", "stow", "lay", "stick", "shift", "stack",
}  # fmt: skip
HOLD = {"pick", "grab", "grasp", "lift", "hold"}
SWAP = {"swap", "switch", "exchange", "interchange", "trade"}
GO = {"go", "drive", "navigate", "head", "travel", "roll", "come"}
OPEN = {"open": "open", "close": "closed", "shut": "closed"}
CLEAR = {"clear", "empty", "unload"}
TIDY = {"tidy"}
KEEP = {"leave", "keep"}
VERBS = MOVE | HOLD | SWAP | GO | set(OPEN) | CLEAR | TIDY | KEEP
HOMING = {"return"}  # a move verb that means "to its home" without a destination

DEST_PREPS = (
    ("on", "top", "of"), ("over", "to"), ("back", "to"), ("back", "on"), ("back", "in"),
    ("back", "into"), ("up", "to"), ("across", "to"), ("down", "on"), ("onto",), ("into",),
    ("inside",), ("to",), ("on",), ("in",), ("at",), ("toward",), ("towards",),
)  # fmt: skip
FILTER_PREPS = {"on", "in", "at", "from", "off", "inside", "onto", "into"}
EXCEPT = (("other", "than"), ("apart", "from"), ("except", "for"), ("except",), ("but",),
           ("excluding",), ("besides",), ("save", "for"))  # fmt: skip
LEADING = {
    "please", "first", "firstly", "also", "now", "then", "can", "could", "would", "will",
    "you", "kindly", "finally", "next", "i", "want", "need", "to", "just", "lastly", "id",
    "like", "and", ",", "lets", "ahead", "quickly", "carefully", "robot", "robots",
    "should", "must", "shall", "may",
}  # fmt: skip
ARTICLES = {"the", "my", "some", "this", "that", "these", "those", "of", "our", "your"}
ONE_OF = {"a", "an", "any", "one"}  # "a cup": any one cup
ALL = {"all", "every", "each", "everything", "anything"}
GENERIC = {
    "thing", "things", "object", "objects", "item", "items", "stuff", "everything",
    "anything", "one", "ones", "rest",
}  # fmt: skip
PRONOUNS = {"it", "them", "they", "both"}
VAGUE = {"there", "here", "me", "us", "somewhere", "away", "over", "elsewhere"}
ADVERBS = {"back", "away", "over", "across", "up", "down", "around", "again"}
STAY = [["alone"], ["where", "it", "is"], ["where", "they", "are"], ["in", "place"],
         ["untouched"], ["there"], ["as", "it", "is"], ["as", "they", "are"]]  # fmt: skip
FILLER_NAMES = {"area", "spot", "station", "zone", "top", "of", "region", "corner", "side",
                 "surface", "place", "location", "number", "no"}  # fmt: skip
TRAILERS = [
    ["at", "the", "same", "time"], ["at", "once"], ["right", "away"], ["please"], ["thanks"],
    ["thank", "you"], ["for", "me"], ["if", "you", "can"],
]  # fmt: skip
NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
ORDINALS = {
    w: i + 1
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth".split()
    )
}
UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0, "m": 60.0,
          "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0,
          "hour": 3600.0, "hours": 3600.0}  # fmt: skip
CATEGORIES: dict[str, set[str]] = {
    "fruit": {"apple", "banana", "orange", "pear", "lemon", "lime", "peach", "plum", "grape",
              "grapes", "strawberry", "mango", "kiwi", "cherry", "melon"},
    "dish": {"cup", "mug", "bowl", "plate", "glass", "saucer", "dish"},
    "cutlery": {"fork", "knife", "spoon", "chopsticks"},
    "drink": {"can", "bottle", "soda", "juice", "coffee", "tea", "water", "milk"},
    "toy": {"ball", "block", "cube", "teddy", "doll", "toy", "car"},
    "book": {"book", "notebook", "magazine"},
}  # fmt: skip
CATEGORIES["tableware"] = CATEGORIES["crockery"] = CATEGORIES["dish"]
CATEGORIES["silverware"] = CATEGORIES["cutlery"]
CATEGORIES["food"] = CATEGORIES["fruit"] | {"bread", "sandwich", "snack", "cookie", "cake"}
IRREGULAR = {"knives": "knife", "dishes": "dish", "glasses": "glass", "boxes": "box",
              "leaves": "leaf", "people": "person", "mice": "mouse"}  # fmt: skip
THEN = re.compile(
    r"\s*(?:,?\s*\band then\b|,?\s*\bthen\b|;|\.\s|\bafter that\b|\bafterwards\b"
    r"|,?\s*\bfinally\b|,?\s*\blastly\b)\s*"
)
STRUCTURE = (
    set(ARTICLES) | ONE_OF | ALL | GENERIC | PRONOUNS | VAGUE | ADVERBS | LEADING
    | FILLER_NAMES | set(NUMBERS) | set(ORDINALS) | set(UNITS) | {w for p in DEST_PREPS for w in p}
    | FILTER_PREPS | {w for p in EXCEPT for w in p} | {w for t in TRAILERS for w in t}
    | {w for s in STAY for w in s} | set(CATEGORIES)
    | {"and", "or", "with", "without", "using", "use", "via", "by", "only", "not", "dont",
       "never", "avoid", "no", "have", "let", "ask", "tell", "make", "within", "under",
       "less", "than", "most", "up", "places", "positions", "place", "position", "spots",
       "moving", "touching", "touch", "is", "are", "where", "help", "from", "off", "both",
       "else", "which", "what", "involving", "letting", "who", "two"}
)  # fmt: skip
"""Words the parser reads as structure (not names): a word outside these and every name
is one it did not understand."""


def tokens(text: str) -> list[str]:
    """Lower-case words and commas; apostrophes dropped ("don't" → "dont")."""
    flat = re.sub(r"['\u2019]", "", text.lower())
    return re.findall(r"\w+|,", flat)


def singulars(word: str) -> list[str]:
    """The word and the singular forms it may be a plural of."""
    out = [word]
    if word in IRREGULAR:
        out.append(IRREGULAR[word])
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        out.append(word[:-1])
    return out


def digits(words: Sequence[str]) -> list[str]:
    """Number words after the first word as digits ("table three" → "table 3"), and a
    leading ordinal as a number after the rest ("the second table" → "table 2")."""
    out = [w if k == 0 or w not in NUMBERS else str(NUMBERS[w]) for k, w in enumerate(words)]
    if len(out) > 1 and out[0] in ORDINALS:
        out = [*out[1:], str(ORDINALS[out[0]])]
    return out


def strip(words: Sequence[str], drop: set[str]) -> list[str]:
    return [w for w in words if w not in drop]


def join(words: Sequence[str]) -> str:
    return " ".join(w for w in words if w != ",")


def starts(words: Sequence[str], i: int, seq: Sequence[str]) -> bool:
    return list(words[i : i + len(seq)]) == list(seq)


def split_list(words: Sequence[str]) -> list[list[str]]:
    """Words split at "and", "or" and commas (empty parts dropped)."""
    out: list[list[str]] = [[]]
    for w in words:
        if w in ("and", ",", "or"):
            out.append([])
        else:
            out[-1].append(w)
    return [o for o in out if o]
