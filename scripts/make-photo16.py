#!/usr/bin/env python3
"""A large 16-bit RGB PNG for scripts/bench-memory.sh (aetool cannot make 16-bit from 8-bit).

    python3 scripts/make-photo16.py OUT.png [WIDTH HEIGHT]     # default 15000 x 10000 = 150 MP

The picture is synthetic (a colour gradient across, with noise in the low bits, its 61 distinct
rows repeated down the photo); aetool's memory and time depend on its size and layout only. Rows
are written one at a time (filter 0, zlib level 1), so making it takes little memory. Standard
library only.
"""
import random
import struct
import sys
import zlib
from array import array

DISTINCT_ROWS = 61


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def main():
    out = sys.argv[1]
    w, h = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (15000, 10000)
    rng = random.Random(0)
    rows = []
    for k in range(DISTINCT_ROWS):
        t = k / DISTINCT_ROWS
        samples = array("H")
        for i in range(w):
            x = i / w
            for v in (x * 0.8 + 0.1, (1 - x) * t * 0.7 + 0.2, 0.3 + 0.5 * t):
                samples.append(min(65535, max(0, int(v * 65535 + rng.gauss(0, 300)))))
        if sys.byteorder == "little":
            samples.byteswap()
        rows.append(b"\x00" + samples.tobytes())
    z = zlib.compressobj(1)
    with open(out, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        # 16-bit truecolour, no interlace.
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)))
        idat, held = [], 0
        for y in range(h):
            idat.append(z.compress(rows[y % DISTINCT_ROWS]))
            held += len(idat[-1])
            if held > 1 << 24:
                f.write(chunk(b"IDAT", b"".join(idat)))
                idat, held = [], 0
        idat.append(z.flush())
        f.write(chunk(b"IDAT", b"".join(idat)))
        f.write(chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
