"""Quick tests of the fixture HTTP server (tests/sitesrv.py) and the fixture site."""

import time
import urllib.error
import urllib.request

import pytest

try:
    from sitesrv import FIXTURE_SITE, SiteServer, copy_site
except ImportError:  # tests/ imported as a package
    from tests.sitesrv import FIXTURE_SITE, SiteServer, copy_site


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def get(url: str, headers: dict | None = None, timeout: float = 5):
    """(status, headers, body) without following redirects or raising on errors."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()




def test_directory_index_and_content_types(site):
    status, headers, body = get(site.url + "/department-press-briefings/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body.count(b'<li class="collection-result">') == 3
    assert get(site.url + "/department-press-briefings")[0] == 301
    assert get(site.url + "/feeds/wire.xml")[1]["Content-Type"].startswith("application/rss+xml")
    assert get(site.url + "/feeds/atom.xml")[1]["Content-Type"].startswith("application/atom")
    assert get(site.url + "/files/report.pdf")[1]["Content-Type"] == "application/octet-stream"
    assert get(site.url + "/robots.txt")[2] == b"User-agent: *\nDisallow: /private/\n"
    assert get(site.url + "/missing/gone.html")[0] == 404
    assert get(site.url + "/../../etc/passwd")[0] == 404


def test_conditional_get_and_edit_changes_etag(site):
    url = site.url + "/news/iraq-coalition-talks.html"
    status, headers, _ = get(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag and modified
    assert get(url, {"If-None-Match": etag})[0] == 304
    assert get(url, {"If-Modified-Since": modified})[0] == 304
    site.edit("news/iraq-coalition-talks.html", "<html><body><p>Revised.</p></body></html>")
    status, headers, body = get(url, {"If-None-Match": etag})
    assert status == 200 and body.endswith(b"Revised.</p></body></html>")
    assert headers["ETag"] != etag
    assert get(url, {"If-Modified-Since": modified})[0] == 200
    assert site.statuses("/news/iraq-coalition-talks.html") == [200, 304, 304, 200, 200]


def test_fail_then_success_and_builtin_flaky(site):
    site.fail("/news/japan-ldp-leadership.html", 503, times=2, headers={"Retry-After": "1"})
    status, headers, _ = get(site.url + "/news/japan-ldp-leadership.html")
    assert (status, headers["Retry-After"]) == (503, "1")
    assert [get(site.url + "/news/japan-ldp-leadership.html")[0] for _ in range(2)] == [503, 200]
    assert [get(site.url + "/flaky/article.html")[0] for _ in range(2)] == [500, 200]


def test_redirect_delay_and_slow(site):
    site.redirect("/go/story", "/news/advisers-remain-iraq.html")
    status, headers, _ = get(site.url + "/go/story")
    assert status == 302
    assert headers["Location"] == site.url + "/news/advisers-remain-iraq.html"
    site.delay("/robots.txt", 0.3)
    start = time.monotonic()
    assert get(site.url + "/robots.txt")[0] == 200
    assert time.monotonic() - start >= 0.3
    with pytest.raises(OSError):  # socket timeout / URLError
        get(site.url + "/slow/article.html", timeout=0.5)
    assert site.count("/slow/article.html") == 1  # logged before the sleep


def test_base_substituted_and_etag_on_substituted_bytes(tmp_path):
    root = copy_site(tmp_path / "site")
    with SiteServer(root) as one, SiteServer(root) as two:
        _, h1, body = get(one.url + "/feeds/wire.xml")
        _, h2, _ = get(two.url + "/feeds/wire.xml")
    assert b"{{BASE}}" not in body
    assert f"<link>{one.url}/news/iraq-coalition-talks.html</link>".encode() in body
    assert h1["ETag"] != h2["ETag"]  # different ports, different bytes


def test_latin1_and_big(site):
    status, headers, body = get(site.url + "/latin1/article.html")
    assert headers["Content-Type"] == "text/html; charset=iso-8859-1"
    assert "Ministère" in body.decode("iso-8859-1")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    _, _, big = get(site.url + "/big/article.html")
    assert len(big) >= 3_000_000


def test_request_log_and_publish(site):
    site.publish("news/new-story.html", "<html><body><p>New.</p></body></html>")
    assert get(site.url + "/news/new-story.html?utm_source=feed")[0] == 200
    urllib.request.urlopen(urllib.request.Request(site.url + "/robots.txt", method="HEAD"))
    assert ("GET", "/news/new-story.html?utm_source=feed", 200) in site.requests
    assert site.count("/news/new-story.html") == 1
    assert site.count("/news/new-story.html?utm_source=other") == 0
    assert site.requests[-1] == ("HEAD", "/robots.txt", 200)
    with pytest.raises(FileNotFoundError):
        site.edit("news/not-there.html", "x")


def test_fixture_site_is_small():
    size = sum(p.stat().st_size for p in FIXTURE_SITE.rglob("*") if p.is_file())
    assert size < 200_000
