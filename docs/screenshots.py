"""Regenerate the README's screenshots of the demo maps.

    make demo && .venv/bin/python docs/screenshots.py out/demo

Takes a snapshot of ``overview.html`` and of each ``<programme>/map.html`` of the run folder with
headless Chromium (see :mod:`lnplan.report.snapshot`; a CJK font must be installed), and writes
them as small palette PNGs to ``docs/img/``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

from lnplan.report.snapshot import run_maps, snapshot

WINDOW = (1200, 800)
PHONE = (390, 844)


def main(run_dir: str) -> None:
    out = Path(__file__).resolve().parent / "img"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for page in run_maps(Path(run_dir)):
            stem = "overview" if page.name == "overview.html" else page.parent.name
            shots = [(f"{stem}.png", WINDOW)]
            if stem == "overview":
                shots.append((f"{stem}_phone.png", PHONE))
            for name, window in shots:
                raw = Path(tmp) / name
                snapshot(page, raw, None, window=window)
                img = Image.open(raw).convert("RGB").quantize(colors=128, dither=Image.Dither.NONE)
                img.save(out / name, optimize=True)
                print(out / name, (out / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/demo")
