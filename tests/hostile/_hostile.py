"""Helpers of the hostile-input suite: run the CLI, check its one-line error, and prove
that nothing outside the review folder changed."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from metareview.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "data" / "example-review"


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def review(*args: str | Path, stdin: bytes | None = None) -> Outcome:
    """``review ARGS`` in-process, as the shell would see it."""
    result = CliRunner().invoke(cli, [str(a) for a in args], input=stdin)
    return Outcome(result.exit_code, result.stdout, result.stderr, result.exception)


def error_line(outcome: Outcome, code: int, *fragments: str) -> str:
    """Check that the command failed with ``code``, printing exactly one
    ``review: error:`` line (holding each fragment) and no traceback; return the line."""
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), \
        repr(outcome.exception)
    text = outcome.stdout + outcome.stderr
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("review: error:")]
    assert len(errors) == 1, text
    assert outcome.code == code, text
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def sums(folder: Path, skip: Path | None = None) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (not under ``skip``), by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and (skip is None or skip not in p.parents)}


def example_review(where: Path) -> Path:
    """A copy of the example review (sources, workbooks, no outputs) at ``where/review``,
    with a decoy file beside it that no command may touch."""
    target = where / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    (where / "elsewhere").mkdir()
    (where / "elsewhere" / "report.html").write_text("not the review's\n", encoding="utf-8")
    (where / "elsewhere" / "records.csv").write_text("precious\n", encoding="utf-8")
    return target


def set_toml(review_dir: Path, old: str, new: str) -> None:
    path = review_dir / "review.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def rewrite_part(path: Path, part: str, change: Callable[[bytes], bytes]) -> None:
    """Rewrite one member of the zip at ``path`` with ``change(bytes) -> bytes``."""
    with zipfile.ZipFile(path) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in members:
            new.writestr(info, change(data) if info.filename == part else data)
