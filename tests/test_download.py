"""The dataset download against a local HTTP server on 127.0.0.1 (tests never go online): good
files, a corrupted file, a missing file, a server that stops mid-file, mirrors tried in turn."""

import argparse
import gzip
import hashlib
import http.server
import threading
from typing import ClassVar

import pytest

from crossbar import data, download
from crossbar.cli import CliError, ensure_datasets, main

FILES = list(data._FILES.values())


def _fake(name, filename):
    return gzip.compress(f"{name}/{filename}".encode() * 50)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict] = {}
    hits: ClassVar[list] = []

    def do_GET(self):
        self.hits.append(self.path)
        kind, body = self.routes.get(self.path, ("missing", b""))
        if kind == "missing":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "cut":  # the server stops mid-file
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """A server on 127.0.0.1 whose files' MD5s are the ones the loaders expect."""
    routes = {}
    for name in data.DATASETS:
        for f in FILES:
            body = _fake(name, f)
            monkeypatch.setitem(data._MD5, (name, f), hashlib.md5(body).hexdigest())
            routes[f"/{name}/{f}"] = ("ok", body)
    _Handler.routes, _Handler.hits = routes, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_files_are_fetched_checked_and_then_skipped(server, tmp_path, capsys):
    url, _ = server
    assert main(["data", "download", "--dir", str(tmp_path), "--mirror", url,
                 "--no-progress"]) == 0  # fmt: skip
    for name in data.DATASETS:
        assert _leftovers(tmp_path / name) == sorted(FILES)
        assert download.missing_files(name, tmp_path) == []
    hits = len(_Handler.hits)
    assert main(["data", "download", "mnist", "--dir", str(tmp_path), "--mirror", url]) == 0
    assert len(_Handler.hits) == hits  # present and valid: nothing fetched
    assert main(["data", "download", "mnist", "--dir", str(tmp_path), "--mirror", url,
                 "--force", "--no-progress"]) == 0  # fmt: skip
    assert len(_Handler.hits) == hits + 4


@pytest.mark.parametrize(("kind", "reason"), [("corrupt", "MD5"), ("missing", "HTTP 404"),
                                              ("cut", "stopped after")])  # fmt: skip
def test_a_bad_file_is_one_error_line_and_leaves_nothing(server, tmp_path, capsys, kind, reason):
    url, routes = server
    bad = FILES[1]
    if kind == "corrupt":
        routes[f"/mnist/{bad}"] = ("ok", b"\x1f\x8b not the official file")
    elif kind == "missing":
        del routes[f"/mnist/{bad}"]
    else:
        routes[f"/mnist/{bad}"] = ("cut", routes[f"/mnist/{bad}"][1])
    code = main(["data", "download", "mnist", "--dir", str(tmp_path), "--mirror", url,
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error:")
    assert f"mnist/{bad}" in err[0] and url in err[0] and reason in err[0]
    assert bad not in _leftovers(tmp_path / "mnist")
    assert not [f for f in _leftovers(tmp_path / "mnist") if f.endswith(".part")]


def test_official_mirrors_are_tried_in_turn(server, tmp_path, monkeypatch):
    url, routes = server
    for f in FILES:  # the second mirror has the official layout: base + file name
        routes[f"/second/{f}"] = routes[f"/mnist/{f}"]
    monkeypatch.setitem(download.MIRRORS, "mnist", (f"{url}/first/", f"{url}/second/"))
    monkeypatch.delenv("CROSSBAR_DATA_MIRROR", raising=False)
    download.download("mnist", tmp_path)
    assert download.missing_files("mnist", tmp_path) == []
    assert any(h.startswith("/first/") for h in _Handler.hits)


def test_the_environment_names_the_mirror(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setenv("CROSSBAR_DATA_MIRROR", url)
    download.download("fashion-mnist", tmp_path)
    assert all(h.startswith("/fashion-mnist/") for h in _Handler.hits)


def test_demo_and_run_download_what_is_missing_unless_offline(server, tmp_path, monkeypatch,
                                                              capsys):  # fmt: skip
    url, _ = server
    monkeypatch.setattr(data, "search_paths", lambda root=None: [tmp_path / "cache"])
    monkeypatch.setattr(download, "default_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv("CROSSBAR_DATA", raising=False)
    monkeypatch.setenv("CROSSBAR_DATA_MIRROR", url)
    args = argparse.Namespace(data=None, no_download=False, no_progress=True)
    monkeypatch.setenv("CROSSBAR_OFFLINE", "1")
    with pytest.raises(CliError, match="crossbar data download mnist"):
        ensure_datasets(("mnist",), args)
    assert main(["run", "mram-ber", "--quick", "--out", str(tmp_path / "r")]) == 2
    assert "crossbar data download mnist" in capsys.readouterr().err
    monkeypatch.delenv("CROSSBAR_OFFLINE")
    with pytest.raises(CliError, match="downloads are off"):
        ensure_datasets(("mnist",), argparse.Namespace(data=None, no_download=True))
    ensure_datasets(("mnist",), args)
    assert "downloading it to" in capsys.readouterr().err
    assert download.missing_files("mnist", tmp_path / "cache") == []
    hits = len(_Handler.hits)
    ensure_datasets(("mnist",), args)  # found now: nothing fetched
    assert len(_Handler.hits) == hits


def test_unknown_dataset_is_refused(capsys):
    assert main(["data", "download", "cifar"]) == 2
    assert "mnist, fashion-mnist" in capsys.readouterr().err


def test_a_failed_download_leaves_no_empty_dataset_folder(server, tmp_path):
    """An empty folder named like the dataset would look like one to a quick check."""
    url, _ = server
    with pytest.raises(download.DownloadError):
        download.download("mnist", tmp_path, mirror=url + "/nowhere/")
    assert not (tmp_path / "mnist").exists()
    (tmp_path / "fashion-mnist").mkdir()  # a folder the user made stays
    with pytest.raises(download.DownloadError):
        download.download("fashion-mnist", tmp_path, mirror=url + "/nowhere/")
    assert (tmp_path / "fashion-mnist").is_dir()


def test_tests_never_download():
    import os

    assert os.environ.get("CROSSBAR_OFFLINE") == "1"  # conftest: a missing dataset stays missing


def test_a_malformed_mirror_is_one_error_line(tmp_path, capsys):
    code = main(["data", "download", "mnist", "--dir", str(tmp_path), "--mirror",
                 "http://127.0.0.1:1nowhere/"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nonnumeric port" in err[0]
    assert not (tmp_path / "mnist").exists()
