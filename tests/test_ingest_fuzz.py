"""Bad input on the Cafdata importer: mutated real files, fuzzed with hypothesis.

Every file either imports cleanly or is refused with CafdataFormatError and a French message,
never another exception; a refused file leaves the import store byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodata.cog import Cog, load_cog
from geodata.sources import default_sources_dir
from layers.ingest import ROW_COLUMNS, CafdataFormatError, parse_file
from layers.real_store import publish_real
from layers.store import StoreError

SOURCES = default_sources_dir()
FIXTURES = Path(__file__).parent / "fixtures" / "cafdata"
pytestmark = pytest.mark.skipif(
    not (SOURCES / "territoires").is_dir(), reason=f"sources absentes : {SOURCES}"
)
# (fixture, its encoding, its separator)
BASES = [
    ("s_ben_com_f.csv", "utf-8-sig", ";"),
    ("s_ben_dep.csv", "utf-8", ";"),
    ("AFCafdepuis1993.csv", "latin-1", ";"),
    ("CAF_2014_paje_communes.csv", "latin-1", ";"),
    ("txcouv_communes_2014.csv", "utf-8", ";"),
    ("txcouv_pe_epci.csv", "utf-8", ","),
]
NASTY_CELLS = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3",
    "\t=1+1",
    "\r=1",
    " =1",
    "-5",
    "-0",
    "abc",
    "1e309",
    "NaN",
    "inf",
    "0x1F",
    "1,2,3",
    "1 234,5",
    "٣",  # an Arabic-Indic digit
    "²",
    "99999",
    "XXXXX",
    "2A999",
    "",
    '"',
    '""',
    "\x00",
    "é" * 3,
]
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be"]
# Words and signs of the importer's French messages; an English or empty message is a bug.
FRENCH = re.compile(r"ligne|fichier|colonne|valeur|en-tête|é|«")


@pytest.fixture(scope="module")
def cog() -> Cog:
    return load_cog(SOURCES / "territoires")


def _lines(name: str, encoding: str) -> list[str]:
    return (FIXTURES / name).read_bytes().decode(encoding).splitlines()


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A fixture file damaged one way or another; (what was done, the bytes)."""
    name, encoding, sep = draw(st.sampled_from(BASES))
    lines = _lines(name, encoding.removesuffix("-sig"))
    kind = draw(
        st.sampled_from(
            ["cell", "cell", "truncate", "encoding", "huge", "garbage", "binary", "empty", "lines"]
        )
    )
    out_encoding = encoding
    if kind == "cell":  # one cell replaced (formula, negative, non-numeric, unknown code...)
        row = draw(st.integers(0, len(lines) - 1))
        fields = lines[row].split(sep)
        col = draw(st.integers(0, len(fields) - 1))
        fields[col] = draw(st.sampled_from(NASTY_CELLS) | st.text(max_size=12))
        lines[row] = sep.join(fields)
    elif kind == "encoding":
        out_encoding = draw(st.sampled_from(ENCODINGS))
    elif kind == "huge":  # a line of about 2 MB
        row = draw(st.integers(0, len(lines) - 1))
        lines[row] = lines[row] + sep + "9" * 2_000_000
    elif kind == "lines":  # lines dropped, repeated or swapped
        picked = draw(st.lists(st.integers(0, len(lines) - 1), max_size=len(lines) + 3))
        lines = [lines[i] for i in picked]
    text = "\n".join(lines) + "\n"
    data = text.encode(out_encoding.replace("latin-1", "cp1252"), errors="replace")
    if kind == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "garbage":  # random bytes spliced in
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    elif kind == "binary":
        data = draw(st.binary(max_size=512))
    elif kind == "empty":
        data = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\n\n", b"\xff\xfe"]))
    return f"{kind} {name} {out_encoding}", data


def tree_hash(root: Path) -> dict[str, str]:
    """Every file under `root` with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def import_file(path: Path, cog: Cog, store: Path) -> None:
    """What `cafcarto import` does with one file."""
    result = parse_file(path, cog)
    publish_real(store, [result], [path.name], cog=cog)


@pytest.fixture(scope="module")
def store(cog: Cog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An import store holding one real file."""
    root = tmp_path_factory.mktemp("import")
    import_file(FIXTURES / "s_ben_com_f.csv", cog, root)
    return root


def test_mangled_files_are_imported_or_refused_in_french(
    cog: Cog, store: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("fuzz")
    outcomes: dict[str, int] = {"importé": 0, "refusé": 0}

    @given(case=mutated_files())
    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def check(case: tuple[str, bytes]) -> None:
        what, data = case
        path = work / "s_ben_com_f.csv"  # the name gives the dataset of unknown columns
        path.write_bytes(data)
        before = tree_hash(store)
        try:
            import_file(path, cog, store)
        except (CafdataFormatError, StoreError) as exc:
            outcomes["refusé"] += 1
            message = str(exc)
            assert FRENCH.search(message), f"{what} : message non français : {message!r}"
            assert tree_hash(store) == before, f"{what} : l'entrepôt a changé après un refus"
            return
        outcomes["importé"] += 1
        rows = parse_file(path, cog).rows
        assert list(rows.columns) == ROW_COLUMNS
        secret = (rows["statut"] == "secret").to_numpy()
        assert np.isnan(rows["valeur"].to_numpy()[secret]).all()  # a blank is never a value
        assert np.isfinite(rows["valeur"].to_numpy()[~secret]).all()

    check()
    # Both branches ran: the generator is neither all-broken nor all-harmless.
    assert outcomes["importé"] > 0 and outcomes["refusé"] > 0, outcomes


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://x","y")', "+cmd", "@SUM(A1)", "-cmd", "\t=1", " =1+1"]
)
def test_formula_cells_are_refused_and_named(cog: Cog, tmp_path: Path, cell: str) -> None:
    text = "dtreffre;numcomdo;nomcom;indfoy_ndur\n2024-12;01004;Ambérieu;8715\n"
    path = tmp_path / "s_ben_com_f.csv"
    for damaged in (text.replace("Ambérieu", cell), text.replace("8715", cell)):
        path.write_text(damaged, encoding="utf-8")
        with pytest.raises(CafdataFormatError, match="formule de tableur"):
            parse_file(path, cog)


def test_two_imports_in_the_same_second_both_land(cog: Cog, tmp_path: Path) -> None:
    # Found by the fuzzer: both builds were named <second>-<pid>, the second rename failed
    # with an English OSError and left a half-written folder behind.
    root = tmp_path / "import"
    import_file(FIXTURES / "s_ben_com_f.csv", cog, root)
    import_file(FIXTURES / "s_ben_dep.csv", cog, root)
    import_file(FIXTURES / "s_ben_dep.csv", cog, root)
    assert not list((root / "builds").glob("*.partial"))
    assert len(list((root / "builds").iterdir())) == 1
