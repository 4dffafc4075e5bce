"""Catalogs, language negotiation and locale formatting of the console."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from dataex.web import i18n
from dataex.web.render import TEMPLATES, snippet

MSGID = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def template_messages() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        found |= {a or b for a, b in MSGID.findall(path.read_text(encoding="utf-8"))}
    return found | set(i18n.DYNAMIC_MESSAGES)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_template_string_is_in_the_catalog(locale: str) -> None:
    with (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    ids = {m.id for m in catalog if m.id}
    assert template_messages() - ids == set(), "run the extraction and translate the new strings"
    assert ids - template_messages() == set(), "the catalog holds strings no template uses"
    if locale == "zh_CN":
        assert [m.id for m in catalog if m.id and not m.string] == []


def test_no_hard_coded_text_between_tags() -> None:
    """Visible text in templates goes through ``_()``: only markup, expressions and symbols remain."""
    offenders = []
    for path in TEMPLATES.glob("*.html"):
        text = re.sub(r"{[{%#].*?[}%#]}", "", path.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S)
        for chunk in re.findall(r">([^<]+)<", text):
            words = re.findall(r"[A-Za-z\u4e00-\u9fff]{2,}", chunk)
            if words and chunk.strip() not in {"dataex"}:
                offenders.append(f"{path.name}: {chunk.strip()!r}")
    assert offenders == []


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        (None, None, "zh_CN"),
        ("en-US,en;q=0.9", None, "en"),
        ("zh-Hans-CN,zh;q=0.9,en;q=0.8", None, "zh_CN"),
        ("fr-FR,en;q=0.5,zh;q=0.8", None, "zh_CN"),
        ("fr-FR,en;q=0.5", None, "en"),
        ("en;q=0, zh;q=0.1", None, "zh_CN"),
        ("en-US", "zh_CN", "zh_CN"),
        ("zh-CN", "en", "en"),
        ("zh-CN", "xx", "zh_CN"),
        ("en;q=abc", None, "zh_CN"),
    ],
)
def test_negotiate(header: str | None, cookie: str | None, expected: str) -> None:
    assert i18n.negotiate(header, cookie) == expected


def test_money_and_dates_per_locale() -> None:
    zh, en = i18n.Translator("zh_CN"), i18n.Translator("en")
    assert zh.money(123456) == "¥1,234.56" and en.money(5) == "CN¥0.05"
    moment = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert zh.when(moment).startswith("2026年3月1日") and en.when(moment).startswith("Mar 1, 2026")
    assert zh.gettext("Sign in") == "登录" and en.gettext("Sign in") == "Sign in"
    assert zh.gettext("%(n)s results", n=3) == "共 3 条结果"


def test_snippets_let_only_mark_through() -> None:
    raw = "&lt;script&gt;x&lt;/script&gt; <mark>门诊</mark> &amp; <b>"
    assert str(snippet(raw)) == "&lt;script&gt;x&lt;/script&gt; <mark>门诊</mark> &amp; &lt;b&gt;"
