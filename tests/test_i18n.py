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


def test_english_interface_on_request(logged_in):
    world, client = logged_in, logged_in.client
    assert "退出登录" in client.get("/forms").text  # Chinese is the default
    response = client.get("/language?to=en&next=/forms/screening_consent/new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/forms/screening_consent/new"
    page = client.get("/forms/screening_consent/new").text
    assert "Log out" in page and 'lang="en"' in page
    response = client.post("/forms/screening_consent", data={"_csrf_token": world.csrf()})
    assert response.status_code == 422 and "This field is required." in response.text
    client.get("/language?to=zh_Hans_CN")
    assert "此项为必填项" in client.post("/forms/screening_consent", data={"_csrf_token": world.csrf()}).text


def test_language_switch_refuses_other_sites_and_unknown_languages(world):
    client = world.client
    response = client.get("/language?to=xx&next=https://evil.example/", follow_redirects=False)
    assert response.headers["location"] == "/forms" and "lang=" not in response.headers.get("set-cookie", "")


def test_times_are_shown_in_the_schools_time_zone():
    import datetime as dt

    from renderers.environment import fmt_datetime
    from server.i18n import current_locale, to_local

    late_evening_utc = dt.datetime(2026, 11, 29, 23, 5, tzinfo=dt.timezone.utc)
    local = to_local(late_evening_utc)
    assert (local.date(), local.hour, local.utcoffset()) == (dt.date(2026, 11, 30), 7, dt.timedelta(hours=8))
    assert to_local(late_evening_utc.replace(tzinfo=None)) == local  # the database's naive UTC
    token = current_locale.set("zh_Hans_CN")
    try:
        assert "07:05" in fmt_datetime(late_evening_utc) and "30" in fmt_datetime(late_evening_utc)
    finally:
        current_locale.reset(token)
