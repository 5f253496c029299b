"""URL analyser: find_urls() and every feature and finding, on URL lists written here."""

from __future__ import annotations

import pytest

from maldoc.extractor import Context
from maldoc.extractors.urls import UrlExtractor, find_urls
from maldoc.limits import Budget, Limits
from maldoc.types import ExtractorResult, FileType, Sample


def run(*urls: str) -> ExtractorResult:
    out = ExtractorResult(urls=list(urls))
    limits = Limits()
    UrlExtractor().extract(Sample(b"", "doc"), Context(limits, Budget(limits)), out)
    return out


def rules(out: ExtractorResult) -> set[str]:
    return {f.rule_id for f in out.findings}


def test_runs_on_every_type_after_the_collectors():
    assert UrlExtractor.file_types == frozenset()
    assert UrlExtractor.order > 50
    assert FileType.PDF  # (registry dispatch itself is the core's job)


def test_no_urls_gives_zeros_not_missing():
    out = run()
    assert all(out.features[f"url.{n}"] == 0 for n in UrlExtractor.features)
    assert not out.findings


def test_count_and_distinct_hosts():
    out = run("https://www.example.com/a", "https://example.com/b", "http://other.example.org/", "https://example.com/b")
    assert out.features["url.count"] == 3  # duplicates once
    assert out.features["url.distinct_hosts"] == 2  # www. folded


def test_namespace_urls_are_ignored():
    out = run("http://schemas.openxmlformats.org/drawingml/2006/main", "http://www.w3.org/1999/xhtml")
    assert out.features["url.count"] == 0


@pytest.mark.parametrize("url", ["http://192.168.10.5/a", "http://[2001:db8::1]/x", "http://3232235777/", "http://0xc0a80001/"])
def test_ip_hosts(url):
    out = run(url)
    assert out.features["url.ip_hosts"] == 1
    assert "URL_IP_HOST" in rules(out)


def test_punycode_host():
    out = run("https://xn--pple-43d.com/login")
    assert out.features["url.punycode_hosts"] == 1
    assert "URL_PUNYCODE_HOST" in rules(out)


def test_nonstandard_port_and_default_port():
    assert run("http://example.com:8080/").features["url.nonstd_ports"] == 1
    assert run("https://example.com:443/").features["url.nonstd_ports"] == 0
    assert run("http://example.com:99999/").features["url.nonstd_ports"] == 1


def test_suspicious_tld_shortener_file_host():
    out = run("http://promo.example.xyz/", "https://bit.ly/3abc", "https://www.dropbox.com/s/x/doc?dl=1")
    f = out.features
    assert f["url.suspicious_tlds"] == 1 and f["url.shorteners"] == 1 and f["url.file_hosts"] == 1
    assert not rules(out)  # weak signals: features only


def test_paste_host():
    out = run("https://pastebin.com/raw/abcd1234")
    assert out.features["url.paste_hosts"] == 1
    assert "URL_PASTE_HOST" in rules(out)


def test_executable_path_but_not_javascript():
    out = run("http://cdn.example.com/payload.EXE", "http://cdn.example.com/jquery.min.js")
    assert out.features["url.exec_paths"] == 1
    assert "URL_EXECUTABLE_PATH" in rules(out)


def test_remote_file_and_unc():
    out = run("file://attacker.example/share/x.lnk", r"\\198.51.100.7\share\doc.dotm", "file:///C:/Users/x.txt")
    assert out.features["url.remote_file_urls"] == 2
    assert "URL_REMOTE_FILE" in rules(out)


def test_credential_params_and_userinfo():
    out = run("https://example.com/?email=victim@example.org", "https://user:pw@example.com/", "https://example.com/?q=1")
    assert out.features["url.credential_params"] == 1
    assert out.features["url.userinfo"] == 1


def test_long_and_high_entropy_paths():
    out = run("https://example.com/" + "a/" * 80, "https://example.com/x7Gq9ZpL2vR8mW4kT1yB6nC3hJ5dF0sQ")
    f = out.features
    assert f["url.long_paths"] == 1
    assert f["url.high_entropy_paths"] == 1
    assert f["url.max_path_entropy"] > 4.5


def test_one_finding_per_rule_per_node():
    out = run("http://10.0.0.1/a", "http://10.0.0.2/b")
    assert [f.rule_id for f in out.findings] == ["URL_IP_HOST"]


def test_garbage_urls_do_not_raise():
    run("http://[::1", "http://", "://x", "https://exa mple.com/", "http://" + "a" * 10000, "mailto:a@b.c")


# --- find_urls -------------------------------------------------------------------------------

def test_find_urls_extracts_and_trims():
    text = 'see (https://example.com/a?b=1), "http://x.example.org/p.exe". And ftp://files.example.net/f.'
    assert find_urls(text, 10) == ["https://example.com/a?b=1", "http://x.example.org/p.exe",
                                   "ftp://files.example.net/f"]


def test_find_urls_dedupes_and_limits():
    text = " ".join(f"https://h{i}.example.com/" for i in range(50)) + " https://h0.example.com/"
    assert len(find_urls(text, 10)) == 10
    assert len(find_urls(text, 1000)) == 50


def test_find_urls_unc_and_defanged():
    assert find_urls(r"copy \\evil.example\share\a.exe now", 5) == [r"\\evil.example\share\a.exe"]
    assert find_urls("hxxp://bad.example/x", 5) == ["hxxp://bad.example/x"]


def test_find_urls_bounded_length():
    [url] = find_urls("http://example.com/" + "a" * 100_000, 5)
    assert len(url) <= 4096 + len("http://")


def test_find_urls_ignores_escaped_backslashes_in_code():
    assert find_urls(r'var s = "\\x41\\x42\\x43"; path = "\\server\\share";', 5) == []
    assert find_urls(r"\\198.51.100.7@80\webdav\x.dll", 5) == [r"\\198.51.100.7@80\webdav\x.dll"]
