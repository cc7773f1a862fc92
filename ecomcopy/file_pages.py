"""Give back memory that loading the weights touched and no longer needs: pages of memory-mapped files, freed heap."""

from __future__ import annotations

import ctypes
import mmap
from pathlib import Path


def release_file_pages(path: Path) -> None:
    """Drop the resident pages of every private, unwritten memory map of `path` in this process.

    transformers maps the whole fp32 checkpoint (and `int8_cache` the kept int8 file); packing the int8
    weights reads every Linear weight through that map, and the touched pages (~2 GB for Qwen) stay counted in
    the process's memory although those weights are no longer used. The map is private and unwritten, so
    MADV_DONTNEED is safe: a page still in use (the embedding, the norms) is simply read again from the file
    when next touched.
    """
    if not hasattr(mmap, "MADV_DONTNEED") or not Path("/proc/self/maps").exists():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    name = str(path.resolve())
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[5] == name and fields[1].startswith("r") and fields[1].endswith("p"):
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            libc.madvise(lo, hi - lo, mmap.MADV_DONTNEED)


def trim_heap() -> None:
    """Return freed heap memory to the system (glibc `malloc_trim`): unpacking the int8 weights to save them
    allocates and frees ~1.5 GB in pieces below glibc's mmap threshold, which the heap would otherwise keep."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        pass
