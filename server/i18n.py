"""Translations: English msgids, compiled catalogs under i18n/ (zh_Hans_CN is the default).

The current locale is a context variable, so code that produces messages (validation,
definition checks) needs no request object, and each request can carry its own locale.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import zoneinfo
from functools import lru_cache

from babel import Locale
from babel.support import NullTranslations, Translations

from server.settings import I18N_DIR

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_LOCALE = "zh_Hans_CN"
SUPPORTED_LOCALES = ("zh_Hans_CN", "en")
current_locale: contextvars.ContextVar[str] = contextvars.ContextVar("xindang_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=None)
def translations(locale: str) -> NullTranslations:
    """The `messages` catalog of `locale`; English (the msgids) when none is compiled."""
    if locale == "en":
        return NullTranslations()
    loaded = Translations.load(str(I18N_DIR), [locale], domain="messages")
    return loaded


def gettext(message: str, /, **params: object) -> str:
    """Positional-only msgid, so a placeholder may be called `message` (or any other name)."""
    text = translations(current_locale.get()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, /, **params: object) -> str:
    text = translations(current_locale.get()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


def babel_locale(locale: str | None = None) -> Locale:
    return Locale.parse(locale or current_locale.get())


def pick_locale(requested: str | None, default: str) -> str:
    return requested if requested in SUPPORTED_LOCALES else default


_ = gettext


@lru_cache(maxsize=1)
def display_timezone() -> dt.tzinfo:
    """The school's time zone (XINDANG_TIMEZONE, default Asia/Shanghai): times are stored in UTC and shown
    in it, and "today" is the school's today, not the server's."""
    name = os.environ.get("XINDANG_TIMEZONE", DEFAULT_TIMEZONE)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logging.getLogger("xindang").error("unknown XINDANG_TIMEZONE %r: using %s", name, DEFAULT_TIMEZONE)
        return zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)


def local_today() -> dt.date:
    return dt.datetime.now(display_timezone()).date()


def to_local(value: dt.datetime) -> dt.datetime:
    """A stored time in the school's time zone (a naive value is UTC, as the database keeps it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(display_timezone())
