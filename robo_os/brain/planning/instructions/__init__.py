"""The embedded instruction parser: what people say, in English, to a `Goal`.

It is the fallback for when no model is configured (or none answers): with a model,
goal mode covers any language the model speaks. Case, articles and punctuation do not
matter; "please", "can you", "at the same time" and the like are ignored.

Actions (X: objects, Y: a place, a robot or a receptacle object, R: robots, P: a place):

    bring|put|move|take|carry|place|set|deliver|transfer|fetch|get|serve|send|drop|stack|
      relocate|load|store|return|hand|give|pass X to|onto|into|in|on|at|inside|on top of|over to Y
                                            on(X, Y); a robot without a tray: holding(R, X);
                                            an object Y must be a receptacle (attr
                                            `receptacle`, else its type: bowl, box, cup, ...)
    ... X from|off Z to Y                  Z picks among several X, or is checked (noted)
    ... X and W to Y / X on Y and W on Z / X on Y and on Z (a later step)
    bring|hand|give R X                    as "... X to R"
    return X / put X back|away             to X's home (object attr `home`); after this
                                            instruction moved X: where X was; else a problem
    pick up|grab|grasp|lift|hold X [on Z] [and put it on Y]
                                            held(X) ("it"/"them": the last objects)
    fetch|get X [from Z] and put it on Y    a move without a place is held until one is said
    swap|switch|exchange A and|with B, switch the places of A and B
                                            on(A, where B is), on(B, where A is)
    clear|empty|unload Z [onto|to|into Y]   everything resting on Z goes to Y
    tidy [up] [Z]                           what has a home (on Z) goes home
    open|close|shut X                       open(X) / closed(X) (X has an `open` attr)
    go|drive|navigate|head to P, send|move R to P     at(R, P)
    leave|keep X [alone|where it is], don't move|touch X, without moving X     keep X
    SKILL X [and Y]                         a skill whose effect adds a plug-in's declared
                                            fact, by name ("wipe the table", "scan barcode
                                            the cup"; or the fact's `verbs`): that effect,
                                            clean(table) (instructions/skills.py)

Object phrases: a name ("cup_2", "cup 2", "table three"), a type ("the apple"), a type
with attribute words ("the red cube", "the small wooden box": any attr value), a
category ("fruit": the object's `category`/`tags` attrs or a built-in table), plurals
and quantifiers ("the cups", "all the fruit", "both mugs", "two cups", "a cup",
"everything", "everything on the counter"), exclusions ("all cups except the blue
one", "everything but X and W": the excluded objects are kept in place).
Place phrases: a name with spaces or underscores, filler words dropped ("the coffee
table area", "the top of the shelf"), numbers in words ("table three", "the third
table" = table_3), a unique part ("counter" = kitchen_counter), a place kind, "where
X is" (X's place now).

Clauses: "A, then B", "A and then B", "A; after that B", "first A, finally B": B's facts
form a later group. "A and B" share a group unless B moves what A placed.

Constraints: "use|using|with|via|by|only R", "have|let|ask|tell R ...", "R, ..." → use;
"without R", "don't use R", "not (with) R", "avoid R", "no R" → avoid; "within 5
minutes", "in under 90 seconds" → deadline_s.

Not understood: "clean" (unless a fleet's fact says so), questions, anything else; the
problem names the words it did not understand, and says that the parser reads English
only when the text looks like another language.
"""

from __future__ import annotations

from ....symbolic.goal import Goal
from .parse import ParsedInstruction, parse_instruction

__all__ = ["Goal", "ParsedInstruction", "parse_instruction"]
