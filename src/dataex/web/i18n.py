"""Languages of the console: zh_CN (first) and en, gettext catalogs compiled from .po at start-up.

The .po files under ``web/locale`` are the source of truth; they are compiled in memory (Babel's
``read_po``/``write_mo``) the first time a language is used, so no binary .mo is committed. The
language comes from the ``lang`` cookie (set by the switch link), else from Accept-Language, else
zh_CN. Money is stored in integer fen and shown in yuan; dates are formatted per locale (UTC).
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Final

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from dataex.privacy.dp.service import NOTES as DP_NOTES
from dataex.quality.service import NOTE_NO_TARGET as QUALITY_NOTE_NO_TARGET

LOCALES: Final = ("zh_CN", "en")
DEFAULT: Final = "zh_CN"
LANG_COOKIE: Final = "lang"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
NAMES: Final = {"zh_CN": "中文", "en": "English"}
HTML_LANG: Final = {"zh_CN": "zh-CN", "en": "en"}


@cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled catalog of ``locale`` (one of LOCALES)."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def match(tag: str) -> str | None:
    """The supported locale for one language tag (``zh``, ``zh-Hans-CN``, ``en-GB``…), or None."""
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return {"zh": "zh_CN", "en": "en"}.get(primary)


def negotiate(accept_language: str | None, cookie: str | None) -> str:
    """The cookie's language if supported, else the best of Accept-Language, else zh_CN."""
    if cookie in LOCALES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = match(tag) if tag.strip() and tag.strip() != "*" else None
        if locale is not None and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else DEFAULT


@dataclass(frozen=True)
class Translator:
    """What templates call: ``_``, ``money``, ``when``, ``number``, in one locale."""

    locale: str

    def gettext(self, message: str, **values: object) -> str:
        text = translations(self.locale).gettext(message)
        return text % values if values else text

    def money(self, fen: int) -> str:
        return format_currency(Decimal(fen) / 100, "CNY", locale=self.locale)

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_datetime(moment, format="medium", tzinfo=UTC, locale=self.locale) + " UTC"

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=self.locale)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.locale]


DYNAMIC_MESSAGES: Final = (
    # values that templates translate with ``_(value)``: roles, field categories, contract states
    *("provider", "consumer", "auditor", "operator"),
    *("non_personal", "personal", "sensitive_personal"),
    *("requested", "approved", "rejected", "active", "expired", "revoked", "exhausted"),
    # compute job states, PSI session states, order states
    *("queued", "running", "succeeded", "failed", "killed", "done", "open", "paid", "due"),
    # the services' fixed notes on DP answers and quality reports
    *DP_NOTES,
    QUALITY_NOTE_NO_TARGET,
)
"""Message ids that appear in templates only as variables; the catalog test checks them too."""
