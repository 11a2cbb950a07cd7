"""Peak memory of ``migdiag analyze`` on one very large System log (issue: bounded memory).

Writing 2 GB of records through the synth writer would take minutes and gigabytes of RAM,
so this tiles the chunks of a fleet System log (written by ``benchmarks/run.py``) until the
file reaches the wanted size, fixes the file header (chunk count, CRC), then runs
``migdiag analyze FILE --format json -o /dev/null`` and reports its peak RSS next to a bare
parse of the same file by the ``evtx`` package in the same run.

    python benchmarks/big_log.py [--size-mb 2048] [--source PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
HEADER, CHUNK = 4096, 65536


def tile(source: Path, target: Path, size_mb: int) -> int:
    """Write ``target`` of about ``size_mb`` MB from ``source``'s chunks; returns chunks."""
    data = source.read_bytes()
    chunks = [data[o : o + CHUNK] for o in range(HEADER, len(data), CHUNK)]
    chunks = [c for c in chunks if c.startswith(b"ElfChnk\x00")]
    wanted = min(65535, size_mb * 1024 * 1024 // CHUNK)
    header = bytearray(data[:HEADER])
    struct.pack_into("<QQ", header, 8, 0, wanted - 1)  # first and last chunk numbers
    struct.pack_into("<H", header, 42, wanted)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    with target.open("wb") as f:
        f.write(header)
        for i in range(wanted):
            f.write(chunks[i % len(chunks)])
    return wanted


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS of the child in MB) for one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss is the largest child so far: run the smaller command first.
    return wall, max(before, after) / 1024


BARE = """
import sys
from evtx import PyEvtxParser
n = 0
for _ in PyEvtxParser(sys.argv[1]).records():
    n += 1
print(n)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument(
        "--source", type=Path, default=CACHE / "fleet-full" / "HV01" / "System.evtx"
    )
    args = parser.parse_args()
    if not args.source.is_file():
        sys.exit(f"error: {args.source}: run `python benchmarks/run.py --size full` first")
    target = CACHE / f"big-system-{args.size_mb}.evtx"
    if not target.is_file():
        tile(args.source, target, args.size_mb)
    size = target.stat().st_size / 1e6
    bare_wall, bare_rss = peak_rss_mb([sys.executable, "-c", BARE, str(target)])
    wall, rss = peak_rss_mb(
        [
            sys.executable,
            "-m",
            "migdiag",
            "analyze",
            str(target),
            "-f",
            "json",
            "-o",
            "/dev/null",
            "-q",
        ]
    )
    result = {
        "file_mb": round(size),
        "bare_parse": {"wall_s": round(bare_wall, 2), "peak_rss_mb": round(bare_rss)},
        "analyze": {"wall_s": round(wall, 2), "peak_rss_mb": round(rss)},
    }
    print(json.dumps(result, indent=2))
    (CACHE / "big-log.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
