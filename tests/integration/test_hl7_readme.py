"""The README's HL7 mapping table is the one in adapters/hl7/mapping.py's docstring, and
names every trigger the mapping takes."""

from __future__ import annotations

from pathlib import Path

from adapters.hl7 import mapping

README = Path(__file__).resolve().parents[2] / "README.md"


def _table(text: str) -> list[str]:
    """The first Markdown table in ``text``: its lines, up to the first non-table line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| trigger |"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line.strip())
    return table


def test_the_readme_mapping_table_equals_the_docstring_s() -> None:
    section = README.read_text().split("### Mapping", 1)[1]

    assert _table(section) == _table(mapping.__doc__ or "")


def test_every_supported_trigger_is_in_the_table() -> None:
    table = "\n".join(_table(mapping.__doc__ or ""))
    for key in mapping.SUPPORTED_TRIGGERS:
        code, trigger = key.split("^")
        assert code in table and trigger in table, key
