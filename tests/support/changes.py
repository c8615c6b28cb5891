"""A realistic change record for the alert render and channel tests."""

from __future__ import annotations

from alerts.render import ChangeRecord, Report


def sample_change() -> ChangeRecord:
    """A realistic change (type ``test``) for the render and channel tests."""
    return ChangeRecord(
        change_id=0,
        story="us-iraq-coalition",
        tracker="us-troops-iraq",
        tracker_title="US troops in Iraq",
        kind="troops",
        type="test",
        old=Report(
            value="~2,500",
            sentence="There are approximately 2,500 U.S. troops in Iraq as part of the "
            "coalition's advise-and-assist mission.",
            source="defense-releases",
            title="Secretary of Defense Meets With Iraqi Counterpart",
            url="https://www.defense.gov/News/Releases/Release/Article/4101234/",
            published="2025-03-04",
        ),
        new=Report(
            value="<2,000",
            sentence="The United States now has fewer than 2,000 troops in Iraq, and the "
            "coalition mission will end by September 2025.",
            source="state-briefings",
            title="Department Press Briefing – September 12, 2025",
            url="https://www.state.gov/briefings/department-press-briefing-september-12-2025/",
            published="2025-09-12",
        ),
        corroborating=(
            Report(
                value="<2,000",
                sentence="Fewer than 2,000 American troops remain in the country, officials said.",
                source="aljazeera",
                title="US begins drawdown of troops from Iraq",
                url="https://www.aljazeera.com/news/2025/9/13/us-begins-drawdown-of-troops-from-iraq",
                published="2025-09-13",
            ),
        ),
        detected_at="2025-09-12T18:05:00+00:00",
    )
