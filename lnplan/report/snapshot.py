"""PNG and A4 PDF snapshots of a run's maps, through headless Chromium, for printed reports.

``lnplan snapshot RUN_DIR`` and ``maps.snapshots = true`` call :func:`snapshot_run`, which writes
``snapshots/<map>.png`` (1600 x 1000 pixels) and ``snapshots/<map>.pdf`` (A4 landscape: the maps
carry ``@page { size: A4 landscape }``) for ``overview.html`` and every ``<programme>/map.html``.
Chinese text needs a CJK font on the machine (Debian: ``fonts-noto-cjk``), or it shows as boxes.
The browser runs with networking cut off, as an official's blocked intranet would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lnplan.errors import LnplanError

SNAPSHOT_DIR = "snapshots"
#: Pixels of a PNG snapshot (width, height).
WINDOW = (1600, 1000)
#: Milliseconds of virtual time the page gets to draw before the snapshot.
VIRTUAL_TIME_MS = 5000
INSTALL_HINT = (
    "install Chromium and a CJK font: on Debian/Ubuntu `apt-get install chromium fonts-noto-cjk`, "
    "or set LNPLAN_CHROMIUM to the browser's path"
)


class BrowserMissingError(LnplanError):
    """No headless browser to take snapshots with."""


def find_chromium() -> str:
    """The Chromium executable (``LNPLAN_CHROMIUM``, else ``chromium`` on the PATH)."""
    wanted = os.environ.get("LNPLAN_CHROMIUM")
    if wanted:
        if Path(wanted).is_file():
            return wanted
        raise BrowserMissingError(f"LNPLAN_CHROMIUM={wanted} is not a file; {INSTALL_HINT}")
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissingError(f"no Chromium found for map snapshots; {INSTALL_HINT}")


def chromium_flags(profile: Path) -> list[str]:
    """Headless flags with the network cut off (pages must render offline)."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--proxy-server=127.0.0.1:9",  # nothing listens there: no request leaves the machine
        "--proxy-bypass-list=<-loopback>",
        f"--virtual-time-budget={VIRTUAL_TIME_MS}",
        f"--user-data-dir={profile}",
    ]


#: Headless Chromium lays pages out at least this wide, whatever the window size.
MIN_LAYOUT_WIDTH = 500


def snapshot(
    page: Path, png: Path | None, pdf: Path | None, *, window: tuple[int, int] = WINDOW
) -> None:
    """Write a PNG and/or an A4 PDF of ``page``.

    A window narrower than headless Chromium's layout minimum (a phone's 390 px) is emulated by
    drawing the page in a frame of exactly that width, so the PNG shows the phone layout.
    """
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="lnplan-chromium-") as profile:
        base = [browser, *chromium_flags(Path(profile)), f"--window-size={window[0]},{window[1]}"]
        shown = page.resolve().as_uri()
        if window[0] < MIN_LAYOUT_WIDTH:
            frame = Path(profile) / "phone.html"
            frame.write_text(
                f'<!DOCTYPE html><html><body style="margin:0"><iframe src="{shown}" '
                f'style="border:0;width:{window[0]}px;height:{window[1]}px"></iframe></body></html>',
                encoding="utf-8",
            )
            shown = frame.as_uri()
        jobs: list[tuple[Path, list[str]]] = []
        if png is not None:
            jobs.append((png, [*base, f"--screenshot={png}", shown]))
        if pdf is not None:
            pdf_cmd = [*base, "--no-pdf-header-footer", f"--print-to-pdf={pdf}"]
            jobs.append((pdf, [*pdf_cmd, page.resolve().as_uri()]))
        for made, cmd in jobs:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
            if done.returncode != 0 or not made.is_file():
                raise LnplanError(
                    f"Chromium could not snapshot {page}: {done.stderr.strip()[-500:]}"
                )


def run_maps(run_dir: Path) -> list[Path]:
    """The shared maps of a run folder: ``overview.html`` then each ``<programme>/map.html``."""
    run = Path(run_dir)
    pages = [run / "overview.html"] if (run / "overview.html").is_file() else []
    pages += sorted(run.glob("*/map.html"))
    return pages


def snapshot_run(run_dir: Path, *, pdf: bool = True) -> list[Path]:
    """PNG (and PDF) snapshots of every map of ``run_dir`` into ``run_dir/snapshots``."""
    run = Path(run_dir)
    if not run.is_dir():
        raise LnplanError(f"{run} is not a run folder")
    pages = run_maps(run)
    if not pages:
        raise LnplanError(f"{run} holds no maps (overview.html or <programme>/map.html)")
    find_chromium()
    out = run / SNAPSHOT_DIR
    out.mkdir(exist_ok=True)
    written = []
    for page in pages:
        stem = "overview" if page.name == "overview.html" else page.parent.name
        png, doc = out / f"{stem}.png", (out / f"{stem}.pdf" if pdf else None)
        snapshot(page, png, doc)
        written += [p for p in (png, doc) if p is not None]
    return written
