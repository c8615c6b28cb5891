"""A fixed table of host names for crawls in tests: no DNS, and no mock of the guard.

    table = HostsTable({"feeds.example.test": ["127.0.0.1"]})
    crawl_sources(..., scrapy_overrides=table.settings())

``table.settings()`` makes :class:`TableResolver` the resolver under newswatch's SSRF
screen (``NEWSWATCH_RESOLVER``), so the table's answer is both what the guard checks
and what the connection uses. A name may list several answers in turn
(``[["127.0.0.1"], ["127.0.0.2"]]``): each lookup takes the next, the last repeats —
a DNS server that rebinds. ``table.asked`` lists the names looked up, in order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from zope.interface import implementer


class HostsTable:
    """Names and their answers; shared, not copied, by Scrapy's settings."""

    def __init__(self, names: dict[str, list[str] | list[list[str]]]) -> None:
        self.answers = {name: [a] if a and isinstance(a[0], str) else list(a)
                        for name, a in names.items()}
        self.asked: list[str] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> HostsTable:
        return self  # Scrapy deep-copies settings; the test reads .asked afterwards

    def settings(self) -> dict[str, Any]:
        return {"NEWSWATCH_RESOLVER": "dnstable.TableResolver", "HOSTS_TABLE": self}

    def lookup(self, name: str) -> list[str]:
        self.asked.append(name)
        turns = self.answers.get(name)
        if not turns:
            return []  # unknown name: the lookup finds nothing, as NXDOMAIN
        return turns.pop(0) if len(turns) > 1 else turns[0]


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        pass


@implementer(IHostnameResolver)
class TableResolver:
    """An IHostnameResolver answering from the crawl's ``HOSTS_TABLE`` setting."""

    def __init__(self, table: HostsTable) -> None:
        self.table = table

    @classmethod
    def from_crawler(cls, crawler: Any) -> TableResolver:
        return cls(crawler.settings["HOSTS_TABLE"])

    def resolveHostName(self, resolutionReceiver: Any, hostName: str, portNumber: int = 0,
                        addressTypes: Sequence[type] | None = None,
                        transportSemantics: str = "TCP") -> _Resolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        for address in self.table.lookup(hostName):
            ip = ipaddress.ip_address(address)
            cls = IPv4Address if ip.version == 4 else IPv6Address
            resolutionReceiver.addressResolved(cls("TCP", address, portNumber))
        resolutionReceiver.resolutionComplete()
        return resolution
