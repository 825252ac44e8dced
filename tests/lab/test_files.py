"""Safe loading: what a file declares it expands to is checked before anything is decoded."""

import io
import tracemalloc
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lab import files


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_an_npz_bomb_is_refused_from_its_declared_size_before_decompressing():
    bomb = _npz_bytes(x=np.zeros(8_000_000))  # 64 MB of zeros in well under 1 MB
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"declares 64,000,\d+ bytes once decompressed"):
            files.load_arrays(bomb, filename="bomb.npz", max_bytes=2_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000, f"refusing the bomb allocated {peak:,} bytes"


def test_an_npz_within_its_expansion_limit_loads_exactly():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 8))
    out = files.load_arrays(_npz_bytes(a=a, b=a[:, :2]), filename="ok.npz", max_bytes=20_000)
    assert np.array_equal(out["a"], a) and np.array_equal(out["b"], a[:, :2])


def test_an_npz_with_too_many_members_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(files.MAX_MEMBERS + 1):
            member = io.BytesIO()
            np.save(member, np.arange(3))
            z.writestr(f"m{i}.npy", member.getvalue())
    with pytest.raises(ValueError, match=f"holds {files.MAX_MEMBERS + 1} arrays"):
        files.load_arrays(buf.getvalue(), filename="many.npz")


def test_a_parquet_file_declaring_too_many_rows_is_refused():
    table = pa.table({"x": pa.array(np.zeros(300_000))})
    data = _parquet_bytes(table)
    assert len(data) < 100_000  # constant columns compress to almost nothing
    with pytest.raises(ValueError, match="declares 300,000 rows, over the limit of 100,000"):
        files.load_arrays(data, filename="rows.parquet", max_rows=100_000)


def test_a_parquet_file_declaring_too_many_bytes_is_refused():
    table = pa.table({"x": pa.array(np.zeros(200_000))})
    with pytest.raises(ValueError, match="bytes once decoded, over the limit"):
        files.load_arrays(_parquet_bytes(table), filename="big.parquet", max_bytes=100_000)


def test_parquet_vector_columns_match_a_row_by_row_reference():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((40, 6))
    label = rng.integers(0, 5, size=40)
    table = pa.table({"emb": pa.array(list(m)), "fixed": pa.FixedSizeListArray.from_arrays(pa.array(m.ravel()), 6),
                      "label": label})
    out = files.load_arrays(_parquet_bytes(table), filename="v.parquet")
    reference = np.array([list(row) for row in table.column("emb").to_pylist()], dtype=np.float64)
    assert np.array_equal(out["emb"], reference) and np.array_equal(out["fixed"], m)
    assert np.array_equal(out["label"], label)


def test_ragged_or_null_vector_cells_are_named():
    ragged = pa.table({"emb": pa.array([[1.0, 2.0], [3.0]])})
    with pytest.raises(ValueError, match="column 'emb': list cells must all have the same length"):
        files.load_arrays(_parquet_bytes(ragged), filename="r.parquet")
    nulls = pa.table({"emb": pa.array([[1.0, 2.0], None])})
    with pytest.raises(ValueError, match="column 'emb': 1 empty"):
        files.load_arrays(_parquet_bytes(nulls), filename="n.parquet")


def test_confine_allows_files_inside_the_roots_only(tmp_path):
    inside = tmp_path / "data"
    inside.mkdir()
    (inside / "a.npy").write_bytes(b"x")
    assert files.confine(inside / "a.npy", [inside]) == (inside / "a.npy").resolve()
    outside = tmp_path / "secret.npy"
    outside.write_bytes(b"x")
    for path in (outside, inside / ".." / "secret.npy", "/etc/passwd", "/no/such/file.npy"):
        with pytest.raises(ValueError, match="path: not allowed") as exc:
            files.confine(path, [inside])
        # the same words whether or not the file exists: nothing about the machine leaks
        assert str(exc.value).startswith("path: not allowed; typed paths must lie inside")


def test_confine_follows_symlinks_before_checking(tmp_path):
    inside = tmp_path / "data"
    inside.mkdir()
    target = tmp_path / "elsewhere.npy"
    target.write_bytes(b"x")
    (inside / "link.npy").symlink_to(target)
    with pytest.raises(ValueError, match="not allowed"):
        files.confine(inside / "link.npy", [inside])


def test_confine_refuses_empty_and_huge_paths_without_echoing_them(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        files.confine("  ", [tmp_path])
    with pytest.raises(ValueError, match="at most 4096 characters") as exc:
        files.confine("a" * 1_000_000, [tmp_path])
    assert len(str(exc.value)) < 200
