"""Dependency-graph helpers for plans: cycles (named concretely) and a stable
topological order."""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

__all__ = ["find_cycles", "topological_order"]


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One concrete cycle per strongly connected component with more than one node
    (Tarjan; iterative, so deep plans cannot overflow the stack)."""
    # graphlib's CycleError names one cycle, picked by its traversal; the checker names
    # every independent cycle of a plan, each from its smallest id, so the message is stable.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    sccs: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Any]] = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    sccs.append(comp)
    cycles = []
    for comp in sccs:
        members = set(comp)
        start = min(comp)
        path, seen, node = [start], {start}, start
        while True:
            nxt = next(n for n in sorted(graph.get(node, ())) if n in members)
            if nxt in seen:
                cycles.append([*path[path.index(nxt) :], nxt])
                break
            path.append(nxt)
            seen.add(nxt)
            node = nxt
    return cycles


def topological_order(ids: list[str], deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Dependencies first, ties broken by position in `ids` (so a listed order is kept).
    Dependencies outside `ids` are ignored; ids on a cycle, and what waits for them, are
    left out."""
    pos = {s: i for i, s in enumerate(ids)}
    sorter: TopologicalSorter[str] = TopologicalSorter(
        {s: [d for d in dict.fromkeys(deps.get(s, ())) if d in pos and d != s] for s in ids}
    )
    with contextlib.suppress(CycleError):
        sorter.prepare()  # after a CycleError it still hands out what precedes the cycle
    ready: list[tuple[int, str]] = []
    out: list[str] = []
    while True:
        for s in sorter.get_ready():
            heapq.heappush(ready, (pos[s], s))
        if not ready:
            return out
        _, s = heapq.heappop(ready)
        out.append(s)
        sorter.done(s)
