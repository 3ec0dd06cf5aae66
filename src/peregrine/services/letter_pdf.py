"""A clean one-page PDF of a letter: name, contact line, date, body.

The text is laid out as plain text (never parsed as markup), so '<' and '&' are just
characters. fpdf2's built-in fonts are Latin-1 only, so a Unicode TrueType font is located
at run time through fontconfig; 'é ñ ü ł' then render and extract back intact.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

from fpdf import FPDF

from peregrine.storage.queries.profile import Profile

# Families tried in order; fontconfig answers with the closest installed file.
_FONT_CANDIDATES = ("DejaVu Sans", "Noto Sans", "Liberation Sans", "FreeSans", "sans-serif")
_SIZES = (11.0, 10.5, 10.0, 9.5, 9.0, 8.5, 8.0)


class LetterPdfError(RuntimeError):
    """The PDF cannot be made here (e.g. no Unicode font installed); says what to install."""


@functools.cache
def unicode_font() -> Path:
    """A TrueType font file with wide Unicode coverage, found through ``fc-match``."""
    fc_match = shutil.which("fc-match")
    if fc_match:
        for family in _FONT_CANDIDATES:
            try:
                # Fixed arguments from a constant list; nothing user-supplied reaches the call.
                found = subprocess.run(  # noqa: S603
                    [fc_match, "--format=%{file}", f"{family}:style=Book"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=False,
                ).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                continue
            if found.lower().endswith(".ttf") and Path(found).is_file():
                return Path(found)
    raise LetterPdfError(
        "no Unicode TrueType font was found for the PDF; install fontconfig and a font "
        "such as DejaVu Sans (Debian: fonts-dejavu-core)"
    )


def contact_line(profile: Profile) -> str:
    parts = [profile.email, profile.phone, profile.location, *profile.links[:2]]
    return " · ".join(p.strip() for p in parts if p and p.strip())


def file_name(full_name: str, company: str, version: int) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", f"{full_name} {company} cover letter").strip("-")
    return f"{stem or 'cover-letter'}-v{version}.pdf"


def _layout(*, name: str, contact: str, when: date, body: str, size: float) -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font("Letter", "", str(unicode_font()))
    pdf.add_page()
    if name:
        pdf.set_font("Letter", size=size + 7)
        pdf.multi_cell(0, (size + 7) * 0.5, name, new_x="LMARGIN", new_y="NEXT")
    if contact:
        pdf.set_font("Letter", size=size - 1.5)
        pdf.multi_cell(0, size * 0.45, contact, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(size * 0.6)
    pdf.set_font("Letter", size=size)
    pdf.multi_cell(0, size * 0.5, when.strftime("%-d %B %Y"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(size * 0.5)
    for paragraph in re.split(r"\n\s*\n", body.strip()):
        pdf.multi_cell(0, size * 0.5, paragraph.strip(), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(size * 0.35)
    return pdf


def render_letter(*, name: str, contact: str, date: date, body: str) -> bytes:
    """The letter as PDF bytes; the font shrinks step by step to keep it on one page."""
    if not body.strip():
        raise LetterPdfError("the letter is empty")
    pdf = None
    for size in _SIZES:
        pdf = _layout(name=name, contact=contact, when=date, body=body, size=size)
        if pdf.page_no() == 1:
            break
    assert pdf is not None
    return bytes(pdf.output())
