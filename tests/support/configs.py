"""Config files for the tests that need one of their own shape.

(The general one, ``conftest.write_config``, takes sources and sections; these write a
whole story and its alert channels, which several tests then edit as text.)
"""

from __future__ import annotations

from pathlib import Path

from newssite import NewsSite

# The story the news site's articles tell, with the tracker most tests watch.
IRAQ_STORY = """stories:
  - name: us-iraq-coalition
    match: {all: [Iraq], any: [coalition, troops]}
    trackers:
      - {name: us-troops-iraq, label: US troops in Iraq, kind: troops, about: [Iraq],
         not_about: [Syria]}
"""


def alerting_config(tmp_path: Path, news_site: NewsSite, smtp_port: int, slack_url: str) -> Path:
    """A feed source on the news site, the us-troops-iraq and coalition-end trackers,
    email and Slack channels."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""archive: {tmp_path / 'archive.db'}
crawl: {{timeout: 2, retries: 0, autothrottle: false, cache_dir: {tmp_path / 'cache'}}}
sources:
  - {{name: news, type: feed, url: "{news_site.server.url}/feed.xml", revisit: 0}}
{IRAQ_STORY}      - {{name: coalition-end, label: Coalition mission end, kind: timeline,
         about: [coalition, mission], cues: [end, conclude]}}
alerts:
  email: {{smtp: "smtp://127.0.0.1:{smtp_port}", from: "newswatch@test", to: ["desk@test"],
          timeout: 5}}
  slack: {{webhook_url: "{slack_url}"}}
  retry: {{attempts: 4, base: 1s, max: 10s}}
""",
        encoding="utf-8",
    )
    return config


def service_config(tmp_path: Path, news_site: NewsSite, smtp_port: int) -> Path:
    """Two sources every second (the news site's feed and a missing one), email."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""archive: {tmp_path / 'archive.db'}
crawl: {{timeout: 2, retries: 0, autothrottle: false}}
service: {{jitter: 0, grace: 5}}
sources:
  - {{name: news, type: feed, url: "{news_site.server.url}/feed.xml", every: 1s, revisit: 0}}
  - {{name: dead, type: feed, url: "{news_site.server.url}/missing/feed.xml", every: 1s}}
{IRAQ_STORY}alerts:
  email: {{smtp: "smtp://127.0.0.1:{smtp_port}", from: "newswatch@test", to: ["desk@test"]}}
  every: 1s
""",
        encoding="utf-8",
    )
    return config
