"""Safe loading of user array files: .npy, .npz, .safetensors, .parquet.

Nothing here unpickles: numpy loads with ``allow_pickle=False`` and safetensors and parquet
carry no code. Input may be a path or the raw bytes of an upload (then ``filename`` tells the
format). Each loader returns ``{name: ndarray}``:

- .npy          -> {"array": arr}
- .npz          -> one entry per member
- .safetensors  -> one entry per tensor
- .parquet      -> one entry per column; a column whose cells are equal-length lists becomes
                   a 2-D array (n, d), numeric columns 1-D arrays, string columns object arrays
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

__all__ = ["load_arrays", "SUPPORTED_SUFFIXES", "DEFAULT_MAX_BYTES"]

SUPPORTED_SUFFIXES = (".npy", ".npz", ".safetensors", ".parquet")
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK", ".parquet": b"PAR1"}


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
) -> dict[str, np.ndarray]:
    """Load every array in a file (path or bytes) without unpickling anything."""
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


def _parquet_arrays(data: bytes) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        col = table.column(name).to_pylist()
        if col and isinstance(col[0], (list, tuple)):
            out[name] = np.asarray(col, dtype=np.float64)
            if out[name].ndim != 2:
                raise ValueError(f"column {name!r}: list cells must all have the same length")
        else:
            arr = table.column(name).to_numpy(zero_copy_only=False)
            out[name] = arr
    return out
