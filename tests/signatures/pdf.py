"""Reading what a PDF shows, for tests: its text as a reader extracts it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import zlib

import pytest


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it, in the order it is drawn (-raw: two
    signature blocks side by side do not mix their lines; the documents embed DejaVu Sans,
    whose glyphs only a real reader maps back to characters), whitespace run together;
    without poppler, the literal strings of its streams (enough for the standard fonts)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        extracted = subprocess.run(
            [pdftotext, "-raw", "-enc", "UTF-8", "-", "-"],
            input=pdf,
            capture_output=True,
            check=True,
            timeout=30,
        )
        return " ".join(extracted.stdout.decode().split())
    return _literal_strings(pdf)


def _literal_strings(pdf: bytes) -> str:
    """Every literal string drawn in the PDF's streams, decoded as Windows-1252."""
    chunks = []
    # The end-of-line before "endstream" is kept: it may be the data's last byte, and the
    # decompressor ignores whatever follows the compressed data.
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL):
        raw = match.group(1)
        with contextlib.suppress(zlib.error):
            raw = zlib.decompressobj().decompress(raw)
        for literal in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", raw, re.DOTALL):
            chunks.append(_unescape(literal))
        for array in re.findall(rb"\[(.*?)\]\s*TJ", raw, re.DOTALL):
            chunks.append(
                b"".join(_unescape(s) for s in re.findall(rb"\((.*?)(?<!\\)\)", array, re.DOTALL))
            )
    return " ".join(chunk.decode("cp1252", errors="replace") for chunk in chunks)


def _unescape(literal: bytes) -> bytes:
    """A PDF literal string's escapes: octal codes and escaped characters."""
    return re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m.group(1), 8)]) if m.group(1).isdigit() else m.group(1),
        literal,
    )


def tampered(pdf: bytes, marker: bytes = b"/Creator (Accord)") -> bytes:
    """The same PDF with one byte changed inside the part every signature covers."""
    index = pdf.index(marker) + len(marker) - 2
    return pdf[:index] + bytes([pdf[index] ^ 0x01]) + pdf[index + 1 :]


def poppler(tool: str) -> str:
    """A poppler-utils program (.ci/run installs them): skipped when missing, but not on CI."""
    return required_tool(tool, "poppler-utils")


def required_tool(tool: str, package: str) -> str:
    """The path of ``tool``, which .ci/run installs from ``package``: the test is skipped
    when it is missing, but failed under ``CI=true``."""
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is missing: apt-get install {package}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: this test may not be skipped)", pytrace=False)
        pytest.skip(reason)
    return path


def pdf_text_and_images(pdf: bytes, folder) -> tuple[str, int]:
    """The PDF's text as pdftotext reads it, and how many images pdfimages finds in it."""
    path = folder / "rapport.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        [poppler("pdftotext"), "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = subprocess.run(
        [poppler("pdfimages"), "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return text, len(listed[2:])  # after its two header lines


def run_pdfsig(pdfsig: str, pdf: bytes, tmp_path, name: str) -> str:
    """What poppler's pdfsig, a reader independent of Accord, says of the PDF's signatures."""
    path = tmp_path / name
    path.write_bytes(pdf)
    result = subprocess.run(
        [pdfsig, str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    return result.stdout
