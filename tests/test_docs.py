"""Every config key that crawler/config.py accepts is documented in README.md.

The keys are not listed by hand: a config that uses every section is parsed while
``_check_keys`` (which every section goes through) records the keys it allows.
The reference is README.md's "Configuration" section; a key counts as documented
when it appears there as YAML (``timeout:``) or in backticks (`` `timeout` ``,
`` `crawl.timeout` ``, `` `all:` ``); a section counts when its keys do (`` `email.smtp` ``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.config import model as config_module

README = Path(__file__).parent.parent / "README.md"

EVERY_SECTION = """
archive: nw.db
sources:
  - {name: a, type: feed, url: 'http://x.example/feed', every: 5m}
stories:
  - name: s
    match: {all: [Iraq], any: [troops], none: [Syria]}
    trackers: [{name: t, kind: troops, about: [Iraq]}]
alerts:
  email: {smtp: 'smtp://user@host:587', starttls: true, from: a@x.example, to: [b@x.example]}
  slack: {webhook_url: 'https://hooks.example/T/B/X'}
  apprise: ['json://localhost/']
  mailbox: alerts.mbox
  retry: {attempts: 3}
  every: 1m
changes: {tolerance: 0.05}
crawl: {timeout: 5}
service: {jitter: 0}
cluster: {redis: 'redis://127.0.0.1:6379/0', lease: 1m}
"""


def accepted_keys() -> list[str]:
    """Dotted names ('crawl.timeout', 'sources[].every') of every key the parser allows."""
    seen: dict[str, set[str]] = {}
    original = config_module._check_keys

    def recording(section, key, allowed):
        seen[re.sub(r"\[\d+\]", "[]", key)] = set(allowed)
        return original(section, key, allowed)

    config_module._check_keys = recording
    try:
        config_module.parse_config(EVERY_SECTION, Path("config.yaml"), environ={})
    finally:
        config_module._check_keys = original
    names = []
    for section, allowed in seen.items():
        prefix = "" if section == "top level" else section + "."
        names.extend(prefix + k for k in sorted(allowed))
    return sorted(names)


KEYS = accepted_keys()


def test_every_section_was_seen():
    # Guards the recording above: if a section stops going through _check_keys,
    # its keys would silently drop out of this test.
    sections = {k.split(".")[0] for k in KEYS}
    assert sections >= {"archive", "sources[]", "stories[]", "alerts", "changes", "crawl",
                        "service"}
    assert {"sources[].every", "crawl.timeout", "alerts.email.smtp",
            "stories[].trackers[].not_about"} <= set(KEYS)


def configuration_reference() -> str:
    assert README.exists(), "README.md does not exist yet (it holds the configuration reference)"
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^(#+)\s*Configuration\b.*$", text, flags=re.MULTILINE | re.IGNORECASE)
    assert match, "README.md has no 'Configuration' section"
    level = len(match.group(1))
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}}\s", rest, flags=re.MULTILINE)
    return rest[: end.start()] if end else rest


def section_tables() -> dict[str, dict[str, str]]:
    """README's reference tables: {section: {key in the first column: the row}}.

    A table belongs to the bold heading above it (**`sources[]`**; **Top level** is "").
    """
    tables: dict[str, dict[str, str]] = {}
    section = None
    for line in configuration_reference().splitlines():
        heading = re.fullmatch(r"\*\*(?:`([^`]+)`|Top level)\*\*\s*", line.strip())
        if heading:
            section = heading.group(1) or ""
            tables[section] = {}
        elif section is not None and line.startswith("| `"):
            key = line.split("`")[1]
            tables[section][key] = line
    return tables


@pytest.mark.parametrize("dotted", KEYS)
def test_config_key_documented_in_its_section(dotted):
    """The whole key is in its own section's table: `confirm.voices` in **`changes`**, not
    merely a `voices` somewhere."""
    tables = section_tables()
    section = max((s for s in tables if s == "" or dotted.startswith(s + ".")), key=len)
    key = dotted[len(section) + 1:] if section else dotted
    rows = tables[section]
    parent, _, child = key.rpartition(".")
    documented = (
        key in rows
        or any(k.startswith(key + ".") for k in rows)  # a mapping documented by its keys
        or (parent in rows and re.search(rf"`{re.escape(child)}:?`", rows[parent]))
    )
    assert documented, f"config key {dotted!r} has no row in README's **`{section}`** table"


@pytest.mark.parametrize("dotted", KEYS)
def test_config_key_documented(dotted):
    reference = configuration_reference()
    key = dotted.rsplit(".", 1)[-1]
    dotted_plain = dotted.replace("[]", "")
    patterns = [
        rf"(?m)^[\s-]*{re.escape(key)}\s*:",  # YAML line `key:` or `- key:`
        rf"[{{,]\s*{re.escape(key)}\s*:",  # YAML flow mapping `{key: ...}`
        rf"`{re.escape(key)}:?`",  # `timeout`, or `all:` in prose
        rf"`{re.escape(key)}\.\w",  # a section documented by its keys: `email.smtp`
        rf"`[\w.\[\]]*\.{re.escape(key)}`",  # `crawl.timeout`, `sources[].every`
        rf"`{re.escape(dotted_plain)}`",
    ]
    assert any(re.search(p, reference) for p in patterns), (
        f"config key {dotted!r} is not documented in README.md's Configuration section"
    )
