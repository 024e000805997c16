"""The testdata cases: where they are, how a line says what it expects, and which groups carry
repros. Shared by tests/test_testdata.py, tests/test_validate.py and tests/test_validate_qemu.py.

A case is a folder under testdata/<group>/<case>/; a line that must be flagged carries
`/* expect: GUP005 */` (several ids separated by commas or spaces).
"""

from __future__ import annotations

import re
from pathlib import Path

from gupcheck.rules import ALL_RULES

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
EXPECT = re.compile(r"expect:\s*((?:GUP\d{3}[\s,]*)+)")
# The groups whose cases carry repros: the example and every rule's, a new rule's included (each of
# its cases gets a repro: see "Contributing" in the README).
VALIDATED_GROUPS: tuple[str, ...] = ("example", *(rule.id.lower() for rule in ALL_RULES))
