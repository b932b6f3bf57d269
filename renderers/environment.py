"""The one Jinja environment: autoescaping on (F4), gettext from server.i18n, Babel formatting."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from renderers import widgets
from server.definitions import get_path
from server.i18n import babel_locale, current_locale, to_local, translations

TEMPLATES = Path(__file__).parent / "templates"


def fmt_date(value: Any, form: str = "long") -> str:
    """A date, or the school's local day of a moment (a stored time is UTC: 00:55 in Beijing is the day before there)."""
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value).date()
    try:
        parsed = dt.date.fromisoformat(str(value)) if not isinstance(value, dt.date) else value
    except ValueError:
        return str(value)
    return format_date(parsed, format=form, locale=babel_locale())


def fmt_datetime(value: dt.datetime | None) -> str:
    return format_datetime(to_local(value), format="short", locale=babel_locale()) if value else ""


def date_parts(value: Any) -> tuple[str, str, str]:
    """Year, month and day for a paper date line (empty strings when blank or unparsable)."""
    try:
        parsed = dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        parsed = None
    return (str(parsed.year), str(parsed.month), str(parsed.day)) if parsed else ("", "", "")


def option_label(spec, value: Any) -> str:
    for option in widgets.choices(spec):
        if option.value == value and type(option.value) is type(value):
            return option.label
    return "" if value is None else str(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # Jinja's newstyle gettext does the %-formatting itself: hand it bare lookups.
    env.install_gettext_callables(
        gettext=lambda s: translations(current_locale.get()).gettext(s),
        ngettext=lambda s, p, n: translations(current_locale.get()).ngettext(s, p, n),
        newstyle=True,
    )
    env.globals.update(
        value_at=get_path,
        widget_for=widgets.widget_for,
        choices=widgets.choices,
        form_value=widgets.form_value,
        computed_text=widgets.computed_text,
        option_label=option_label,
        date_parts=date_parts,
    )
    env.filters.update(date=fmt_date, datetime=fmt_datetime)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
