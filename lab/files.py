"""Safe loading of user array files: .npy, .npz, .safetensors, .parquet.

Nothing here unpickles: numpy loads with ``allow_pickle=False`` and safetensors and parquet
carry no code. Input may be a path or the raw bytes of an upload (then ``filename`` tells the
format). Each loader returns ``{name: ndarray}``:

- .npy          -> {"array": arr}
- .npz          -> one entry per member
- .safetensors  -> one entry per tensor
- .parquet      -> one entry per column; a column whose cells are equal-length lists becomes
                   a 2-D array (n, d), numeric columns 1-D arrays, string columns object arrays

Note [declared sizes]: a compressed container can expand far beyond its own size (a 2 MB .npz
of zeros holds gigabytes; a 29 KB parquet file millions of rows). So besides the file's size,
what it *declares* it will expand to is checked before anything is decompressed: the zip
members' uncompressed sizes and their count, and parquet's row count and uncompressed
column-chunk sizes. Those declarations are binding: zipfile never yields more than a
member's declared size, and parquet pages are decoded to the sizes its footer states.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

__all__ = ["load_arrays", "confine", "SUPPORTED_SUFFIXES", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_ROWS", "MAX_MEMBERS"]

SUPPORTED_SUFFIXES = (".npy", ".npz", ".safetensors", ".parquet")
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
# What a file may expand to, as a multiple of the file-size limit (see Note [declared sizes]).
EXPANSION_FACTOR = 4
DEFAULT_MAX_ROWS = 2_000_000
MAX_MEMBERS = 64  # arrays in one .npz
_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK", ".parquet": b"PAR1"}


# A typed path is echoed back at most this long.
MAX_PATH_CHARS = 4096


def confine(path: str | os.PathLike, roots) -> Path:
    """``path`` resolved (symlinks followed), if it lies inside one of ``roots``; else ValueError.

    Note [confined paths]: a path typed into a served page is read by the server, so it may
    only name files under the folders the server was started with. The refusal says the same
    thing whether or not the file exists, so the answer reveals nothing about the rest of
    the machine; ``..`` and symlinks are resolved before the check.
    """
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise ValueError("path: expected a file path, got an empty string")
    if len(text) > MAX_PATH_CHARS or "\x00" in text:
        raise ValueError(f"path: expected a file path of at most {MAX_PATH_CHARS} characters")
    resolved = Path(text).expanduser().resolve()
    allowed = [Path(r).expanduser().resolve() for r in roots]
    if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
        raise ValueError("path: not allowed; typed paths must lie inside the folders this server was started with "
                         "(ortholab serve --data-dir); upload the file instead")
    return resolved


def _suffix(filename: str) -> str:
    name = filename.lower()
    for suf in SUPPORTED_SUFFIXES:
        if name.endswith(suf):
            return suf
    raise ValueError(f"filename: expected one of {', '.join(SUPPORTED_SUFFIXES)}, got {filename!r}")


def load_arrays(
    source: str | os.PathLike | bytes,
    *,
    filename: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> dict[str, np.ndarray]:
    """Load every array in a file (path or bytes) without unpickling anything.

    ``max_bytes`` limits the file; what it declares it expands to may be at most
    ``EXPANSION_FACTOR * max_bytes``, and a parquet table at most ``max_rows`` rows.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if filename is None:
            raise ValueError("filename: required when source is raw bytes (it tells the format)")
        data = bytes(source)
        if len(data) > max_bytes:
            raise ValueError(f"source: {len(data):,} bytes is over the limit of {max_bytes:,} bytes")
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"source: no such file {str(path)!r}")
        size = path.stat().st_size
        if size > max_bytes:
            raise ValueError(f"source: {str(path)!r} is {size:,} bytes, over the limit of {max_bytes:,} bytes")
        filename = filename or path.name
        data = path.read_bytes()
    suffix = _suffix(filename)
    # Note [magic bytes]: numpy falls back to its pickle path for bytes that are not a valid
    # .npy/.npz container, so a corrupt file would be reported as "pickled". Checking the
    # format's signature first gives the honest message.
    magic = _MAGIC.get(suffix)
    if magic is not None and not data.startswith(magic):
        raise ValueError(f"source: {filename!r} is not a valid {suffix} file (its header does not match the format)")
    max_decoded = EXPANSION_FACTOR * max_bytes
    if suffix == ".npz":
        _check_zip_declarations(data, filename, max_decoded)
    elif suffix == ".parquet":
        _check_parquet_declarations(data, filename, max_decoded, max_rows)
    try:
        if suffix == ".npy":
            return {"array": np.load(io.BytesIO(data), allow_pickle=False)}
        if suffix == ".npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        if suffix == ".safetensors":
            from safetensors.numpy import load

            return dict(load(data))
        return _parquet_arrays(data)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                f"source: {filename!r} holds pickled objects, which are not loaded for safety; "
                "save plain numeric arrays instead"
            ) from exc
        raise ValueError(f"source: could not read {filename!r} as {suffix}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - corrupt files from any backend
        raise ValueError(f"source: could not read {filename!r} as {suffix}: {exc}") from exc


def _check_zip_declarations(data: bytes, filename: str, max_decoded: int) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
    except zipfile.BadZipFile as exc:
        raise ValueError(f"source: {filename!r} is not a valid .npz file: {exc}") from exc
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"source: {filename!r} holds {len(members):,} arrays; at most {MAX_MEMBERS} are read")
    declared = sum(m.file_size for m in members)
    if declared > max_decoded:
        raise ValueError(f"source: {filename!r} declares {declared:,} bytes once decompressed, over the limit of "
                         f"{max_decoded:,} bytes")


def _check_parquet_declarations(data: bytes, filename: str, max_decoded: int, max_rows: int) -> None:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:  # noqa: BLE001 - any corrupt footer
        raise ValueError(f"source: could not read {filename!r} as .parquet: {exc}") from exc
    if meta.num_rows > max_rows:
        raise ValueError(f"source: {filename!r} declares {meta.num_rows:,} rows, over the limit of {max_rows:,}")
    declared = sum(_decoded_chunk_bytes(meta.row_group(i).column(j))
                   for i in range(meta.num_row_groups) for j in range(meta.num_columns))
    if declared > max_decoded:
        raise ValueError(f"source: {filename!r} declares {declared:,} bytes once decoded, over the limit of "
                         f"{max_decoded:,} bytes")


# Bytes per value of parquet's fixed-width physical types once decoded.
_PHYSICAL_WIDTH = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}


def _decoded_chunk_bytes(chunk) -> int:
    """What one column chunk decodes to: its value count times the value width.

    Encodings (dictionary, run-length) make the stored pages tiny for repetitive data, so the
    chunk's stored size says little; its declared value count does not lie.
    """
    width = _PHYSICAL_WIDTH.get(chunk.physical_type)
    if width is None:  # byte arrays: at least their uncompressed stored size
        return max(int(chunk.total_uncompressed_size), int(chunk.num_values))
    return int(chunk.num_values) * width


def _parquet_arrays(data: bytes) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type) or pa.types.is_fixed_size_list(col.type):
            out[name] = _list_column_matrix(name, col)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def _list_column_matrix(name: str, col) -> np.ndarray:
    """A column of equal-length list cells as an (n, d) float64 matrix, built in Arrow (no Python rows)."""
    import pyarrow as pa

    if col.null_count:
        raise ValueError(f"column {name!r}: {col.null_count} empty (null) cells; every row needs a vector")
    if pa.types.is_fixed_size_list(col.type):
        width = col.type.list_size
    else:
        lengths = np.diff(np.asarray(col.offsets))  # (n,) cell lengths
        if lengths.size and (lengths != lengths[0]).any():
            raise ValueError(f"column {name!r}: list cells must all have the same length")
        width = int(lengths[0]) if lengths.size else 0
    values = col.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64).reshape(len(col), width)  # (n, d)
