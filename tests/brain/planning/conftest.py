"""Fixtures for the brain planning tests: the scripted OpenAI-compatible server and
the plain-data worlds (see planning_world.py)."""

from __future__ import annotations

import pytest

from robo_os.brain.planning.catalogue import Catalogue

from .planning_world import corpus_catalogue


@pytest.fixture(scope="session")
def corpus_cat() -> Catalogue:
    return corpus_catalogue()
