"""A compact text of the world for a planner's prompt, cut to a size limit.

Robots come first (who can act), then places with what they hold, then objects that are
nowhere in particular; each group is sorted by name so the text is stable between calls
(prompt caches like that). When the limit is reached the rest is counted, never cut
mid-line.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import AttrValue, ObjectState, PlaceState, Pose, RobotState

__all__ = ["render_summary"]


def _at(pose: Pose | None) -> str:
    return "" if pose is None else f" @({pose.x:.2f},{pose.y:.2f})"


def _attrs(attrs: dict[str, AttrValue]) -> str:
    if not attrs:
        return ""
    return " [" + ", ".join(f"{k}={v}" for k, v in sorted(attrs.items())) + "]"


def _object(o: ObjectState) -> str:
    return f"{o.name} ({o.type}){_attrs(o.attrs)}"


def render_summary(
    robots: Sequence[RobotState],
    objects: Sequence[ObjectState],
    places: Sequence[PlaceState],
    max_chars: int = 4000,
) -> str:
    on: dict[str, list[ObjectState]] = {}
    for o in objects:
        if o.on is not None:
            on.setdefault(o.on, []).append(o)
    for group in on.values():
        group.sort(key=lambda o: o.name)

    lines: list[str] = []
    for r in sorted(robots, key=lambda r: r.id):
        bits = [f"robot {r.id} ({r.embodiment}) {r.status}"]
        if r.place:
            bits.append(f"at {r.place}")
        bits.append(_at(r.pose).strip())
        if r.holding:
            bits.append(f"holding {r.holding}")
        if r.current_subtask:
            bits.append(f"doing {r.current_subtask}")
        if r.capabilities:
            bits.append("can " + ",".join(r.capabilities))
        if on.get(r.id):
            bits.append("carrying " + ", ".join(_object(o) for o in on[r.id]))
        lines.append(" ".join(b for b in bits if b))
    place_names = set()
    for p in sorted(places, key=lambda p: p.name):
        place_names.add(p.name)
        contents = ", ".join(_object(o) for o in on.get(p.name, [])) or "empty"
        lines.append(f"place {p.name} ({p.kind}){_at(p.pose)}{_attrs(p.attrs)}: {contents}")
    robot_ids = {r.id for r in robots}
    for o in sorted(objects, key=lambda o: o.name):
        if o.on in place_names or o.on in robot_ids:
            continue
        where = f"held by {o.held_by}" if o.held_by else (f"in/on {o.on}" if o.on else "loose")
        lines.append(f"object {_object(o)} {where}{_at(o.pose)}")

    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        rest = len(lines) - i
        tail = f"... {rest} more lines omitted"
        if used + len(line) + 1 > max_chars - (len(tail) + 1 if rest > 1 else 0):
            if used + len(tail) <= max_chars:
                out.append(tail)
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)
