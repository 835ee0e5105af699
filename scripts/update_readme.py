"""Regenerate the README's generated parts from the code that owns them: the settings
table (proxy_core.settings) and the IDE snippets (app.ide_configs). Tests fail until the
README carries exactly this text: run ``.venv/bin/python -m scripts.update_readme``."""

from __future__ import annotations

from pathlib import Path

from app.ide_configs import readme_section
from proxy_core.settings import settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def replace_between(text: str, start: str, end: str, new: str) -> str:
    begin = text.index(start)
    finish = text.index(end, begin)
    return text[:begin] + new + text[finish:]


def main() -> None:
    text = README.read_text(encoding="utf-8")
    text = replace_between(
        text, "| flag | environment | default | meaning |", "\nPrecedence:", settings_table()
    )
    text = replace_between(
        text, "**Continue** —", "### OpenAI translation notes", readme_section() + "\n"
    )
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
