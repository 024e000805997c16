from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sarif_tools import multitool_package, sarif_validator  # noqa: F401  (fixtures shared by the tests)

from gupcheck.frontend.buildconfig import FileConfig, model_args
from gupcheck.frontend.parse import extract_facts
from gupcheck.model.facts import HeaderMode, Side, TranslationUnitFacts


@pytest.fixture(scope="session", autouse=True)
def private_fact_cache(tmp_path_factory: pytest.TempPathFactory):
    """gupcheck run by the tests caches facts in a directory of this session, not the user's."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def kernel_facts(tmp_path: Path) -> Callable[[str], TranslationUnitFacts]:
    """Parse a kernel C snippet with the built-in kernel API model."""

    def parse(source: str, name: str = "snippet.c") -> TranslationUnitFacts:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        config = FileConfig(
            str(path), tuple(model_args(str(path))), HeaderMode.KERNEL_MODEL, Side.KERNEL, str(tmp_path)
        )
        facts = extract_facts(config)
        assert not facts.errors, [d.message for d in facts.errors]
        return facts

    return parse
