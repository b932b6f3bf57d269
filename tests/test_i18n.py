"""The Chinese catalog covers every UI string the code and templates use."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po

from server.settings import I18N_DIR, PROJECT_ROOT

PO = I18N_DIR / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def test_catalog_translates_every_extracted_string(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(I18N_DIR / "babel.cfg"),
                    "-k", "_", "-k", "gettext", "-k", "ngettext:1,2", "-o", str(pot), "."],
                   cwd=PROJECT_ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog
                  if m.id and m.string and all(m.string if isinstance(m.string, tuple) else [m.string]) and not m.fuzzy}
    missing = extracted - translated
    assert not missing, f"untranslated or missing in {PO.name}: {sorted(missing)}"
    assert len(extracted) > 100


def test_placeholders_survive_translation():
    import re

    with PO.open("rb") as f:
        for message in read_po(f):
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            wanted = set(re.findall(r"%\(\w+\)[sd]|\{\w+\}", ids[0]))
            for text in strings:
                assert set(re.findall(r"%\(\w+\)[sd]|\{\w+\}", text)) == wanted, message.id
