"""cppyy finds CPyCppyy's API headers however the installer named their folder (uv: ``cpycppyy``)."""
from __future__ import annotations

from pathlib import Path

from ns3_scenarios import cppyy_api


def _headers(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "API.h").write_text('#include "CPyCppyy/CommonDefs.h"\n')
    (folder / "CommonDefs.h").write_text("#define CPYCPPYY_TEST 1\n")
    return folder / "API.h"


def test_a_lowercase_header_folder_is_copied_under_the_name_cppyy_includes(tmp_path: Path):
    header = _headers(tmp_path / "venv" / "include" / "site" / "python3.11" / "cpycppyy")
    root = cppyy_api.api_root(header, cache=tmp_path / "cache")
    assert (root / "CPyCppyy" / "API.h").read_text() == header.read_text()
    assert (root / "CPyCppyy" / "CommonDefs.h").is_file()
    assert not (root / "CPyCppyy").is_symlink()
    assert cppyy_api.api_root(header, cache=tmp_path / "cache") == root  # reused, not copied again


def test_headers_already_named_cppyy_are_used_where_they_are(tmp_path: Path):
    header = _headers(tmp_path / "include" / "CPyCppyy")
    assert cppyy_api.api_root(header, cache=tmp_path / "cache") == tmp_path / "include"
    assert not (tmp_path / "cache").exists()


def test_the_installed_headers_are_found_by_the_processes_that_load_ns3():
    header = cppyy_api.installed_header()
    assert header is not None and header.is_file(), "CPyCppyy's RECORD lists no API.h"
    root = Path(cppyy_api.api_root(header))
    assert (root / "CPyCppyy" / "API.h").read_bytes() == header.read_bytes()
