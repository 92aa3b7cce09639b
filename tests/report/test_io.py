"""Outputs are written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from lnplan.report.io import atomic_write, atomic_write_text


def test_writes_whole_file_with_shareable_permissions(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "sub" / "a.txt", "你好")
    assert path.read_text(encoding="utf-8") == "你好"
    assert path.stat().st_mode & 0o044  # readable by group/others under a normal umask


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
