from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sarif_tools import multitool_package, sarif_validator  # noqa: F401  (fixtures shared by the tests)

from gupcheck.buildconfig import FileConfig, model_args
from gupcheck.facts import HeaderMode, Side, TranslationUnitFacts
from gupcheck.parse import extract_facts


@pytest.fixture
def kernel_facts(tmp_path: Path) -> Callable[[str], TranslationUnitFacts]:
    """Parse a kernel C snippet with the built-in kernel API model."""

    def parse(source: str, name: str = "snippet.c") -> TranslationUnitFacts:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        config = FileConfig(str(path), tuple(model_args(str(path))), HeaderMode.KERNEL_MODEL, Side.KERNEL,
                            str(tmp_path))
        facts = extract_facts(config)
        assert not facts.errors, [d.message for d in facts.errors]
        return facts

    return parse
