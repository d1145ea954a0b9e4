"""Hostile and damaged XML: refused with a located error, nothing leaked, nothing truncated."""

from __future__ import annotations

import gzip
import http.server
import threading
from pathlib import Path

import pytest

from metareview import read_articles
from metareview.errors import InputError, MissingInputError

SECRET = "TOP-SECRET-42"
RECORD = "<Article><ArticleTitle>{}</ArticleTitle></Article>"


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def titles(path: Path, **options: object) -> list[str | None]:
    return [a.title for a in read_articles([path], **options)]  # type: ignore[arg-type]


def test_xxe_file_entity_refused_and_not_leaked(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", SECRET)
    path = write(
        tmp_path,
        "xxe.xml",
        f'<?xml version="1.0"?>\n<!DOCTYPE ArticleSet [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n'
        f"<ArticleSet>{RECORD.format('&x;')}</ArticleSet>",
    )
    with pytest.raises(InputError, match="declares its own entities") as caught:
        titles(path)
    assert SECRET not in str(caught.value)
    assert str(path) in str(caught.value)


def test_billion_laughs_refused(tmp_path: Path) -> None:
    levels = ['<!ENTITY a0 "lol">'] + [
        f'<!ENTITY a{i} "{"".join(f"&a{i - 1};" for _ in range(10))}">' for i in range(1, 10)
    ]
    path = write(
        tmp_path,
        "laughs.xml",
        f"<?xml version='1.0'?>\n<!DOCTYPE ArticleSet [{''.join(levels)}]>\n"
        f"<ArticleSet>{RECORD.format('&a9;')}</ArticleSet>",
    )
    with pytest.raises(InputError, match=r"(?i)entit") as caught:
        titles(path)
    assert "lol" not in str(caught.value)


def test_external_dtd_never_loaded(tmp_path: Path) -> None:
    dtd = write(tmp_path, "evil.dtd", f'<!ENTITY secret "{SECRET}">')
    path = write(
        tmp_path,
        "external.xml",
        f'<?xml version="1.0"?>\n<!DOCTYPE ArticleSet SYSTEM "{dtd.as_uri()}">\n'
        f"<ArticleSet>\n{RECORD.format('before &secret; after')}</ArticleSet>",
    )
    with pytest.raises(InputError, match="&secret;") as caught:
        titles(path)
    assert SECRET not in str(caught.value)
    assert f"{path}:4" in str(caught.value)  # the line of the record using it


def test_external_dtd_over_the_network_is_not_fetched(tmp_path: Path) -> None:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY t "leaked">')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/pubmed.dtd"
        path = write(
            tmp_path,
            "network.xml",
            f'<?xml version="1.0"?>\n'
            f'<!DOCTYPE ArticleSet PUBLIC "-//NLM//DTD PubMed 2.7//EN" "{url}">\n'
            f"<ArticleSet>{RECORD.format('A plain title')}</ArticleSet>",
        )
        assert titles(path) == [
            "A plain title"
        ]  # a DOCTYPE alone is fine (every PubMed file has one)
    finally:
        server.shutdown()
    assert hits == []


def test_truncated_file_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "truncated.xml",
        "<ArticleSet>\n" + RECORD.format("one") + "\n<Article><ArticleTitle>tw",
    )
    with pytest.raises(InputError) as caught:
        titles(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3:")
    assert "malformed XML" in message


def test_wrong_encoding_declaration(tmp_path: Path) -> None:
    body = (
        f"<?xml version='1.0' encoding='utf-8'?>\n<ArticleSet>{RECORD.format('café')}</ArticleSet>"
    )
    path = write(tmp_path, "latin1.xml", body.encode("latin-1"))
    with pytest.raises(InputError, match="encoding") as caught:
        titles(path)
    assert f"{path}:2:" in str(caught.value)
    assert "UTF-8" in str(caught.value)


def test_right_encoding_declaration_is_honoured(tmp_path: Path) -> None:
    declaration = "<?xml version='1.0' encoding='iso-8859-1'?>\n"
    body = f"{declaration}<ArticleSet>{RECORD.format('café')}</ArticleSet>"
    path = write(tmp_path, "latin1.xml", body.encode("latin-1"))
    assert titles(path) == ["café"]


def test_bom_is_accepted(tmp_path: Path) -> None:
    body = (
        f"<?xml version='1.0' encoding='utf-8'?>\n<ArticleSet>{RECORD.format('naïve')}</ArticleSet>"
    )
    path = write(tmp_path, "bom.xml", b"\xef\xbb\xbf" + body.encode("utf-8"))
    assert titles(path) == ["naïve"]


def test_gzip_bomb_refused(tmp_path: Path) -> None:
    head = b"<ArticleSet><Article><ArticleTitle>"
    path = tmp_path / "bomb.xml.gz"
    with gzip.open(path, "wb") as out:
        out.write(head)
        for _ in range(64):
            out.write(b" " * (1 << 20))  # 64 MiB of spaces, a few KB compressed
    assert path.stat().st_size < 200_000
    with pytest.raises(InputError, match="decompresses to more than") as caught:
        titles(path, max_decompressed=8 << 20)
    assert str(path) in str(caught.value)


def test_gzip_within_cap_and_broken_gzip(tmp_path: Path) -> None:
    body = f"<ArticleSet>{RECORD.format('zipped')}</ArticleSet>".encode()
    good = write(tmp_path, "good.xml.gz", gzip.compress(body))
    assert titles(good, max_decompressed=len(body)) == ["zipped"]
    broken = write(tmp_path, "broken.xml.gz", gzip.compress(body)[:-12])
    with pytest.raises(InputError):
        titles(broken)


def test_unknown_root_and_not_xml(tmp_path: Path) -> None:
    path = write(tmp_path, "other.xml", "<catalog><book/></catalog>")
    with pytest.raises(InputError, match="no format we know"):
        titles(path)


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="no such file"):
        titles(tmp_path / "absent.xml")
    with pytest.raises(MissingInputError, match="no file matches"):
        list(read_articles([str(tmp_path / "*.xml")]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInputError, match="no article files"):
        list(read_articles([tmp_path / "empty"]))
