"""Turning an uploaded résumé (PDF, DOCX or plain text) into a structured résumé.

Parsing is a best guess from layout conventions (section headings, date ranges, bullets);
the user corrects the result in a form before it is saved, so the guess only has to be
good enough to save typing.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_RESUME_BYTES = 5 * 1024 * 1024
MAX_TEXT_CHARS = 100_000


class ResumeParseError(ValueError):
    """The file cannot be read as a résumé; the message says why, for a person."""


@dataclass
class Experience:
    employer: str = ""
    title: str = ""
    start: str = ""
    end: str = ""
    bullets: list[str] = field(default_factory=list)


@dataclass
class StructuredResume:
    name: str = ""
    email: str = ""
    phone: str = ""
    location: str = ""
    summary: str = ""
    experiences: list[Experience] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    education: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StructuredResume:
        experiences = [
            Experience(
                employer=str(e.get("employer", "")),
                title=str(e.get("title", "")),
                start=str(e.get("start", "")),
                end=str(e.get("end", "")),
                bullets=[str(b) for b in e.get("bullets", [])],
            )
            for e in data.get("experiences", [])
            if isinstance(e, dict)
        ]
        return cls(
            name=str(data.get("name", "")),
            email=str(data.get("email", "")),
            phone=str(data.get("phone", "")),
            location=str(data.get("location", "")),
            summary=str(data.get("summary", "")),
            experiences=experiences,
            skills=[str(s) for s in data.get("skills", [])],
            education=[str(s) for s in data.get("education", [])],
        )


def extract_text(data: bytes, filename: str) -> str:
    """The text of an uploaded file, chosen by its content (magic bytes), not only its name."""
    if len(data) > MAX_RESUME_BYTES:
        raise ResumeParseError(
            f"the file is larger than {MAX_RESUME_BYTES // (1024 * 1024)} MB; "
            "export a smaller PDF or paste the text"
        )
    if not data.strip():
        raise ResumeParseError("the file is empty")
    name = filename.lower()
    if data.startswith(b"%PDF"):
        text = _pdf_text(data)
    elif data.startswith(b"PK\x03\x04"):
        text = _docx_text(data)
    elif name.endswith((".pdf", ".docx")):
        raise ResumeParseError(f"{filename} does not look like a real {name.rsplit('.', 1)[1]}")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ResumeParseError(
                "the file is not a PDF, a Word (.docx) document or UTF-8 text"
            ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise ResumeParseError(
            "no text was found in the file (a scanned PDF has only images); "
            "paste the text into a .txt file instead"
        )
    return text[:MAX_TEXT_CHARS]


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ResumeParseError("the PDF is password-protected; save an unprotected copy")
        return "\n".join(page.extract_text() or "" for page in reader.pages[:20])
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ResumeParseError(f"the PDF cannot be read ({exc.__class__.__name__})") from None


def _docx_text(data: bytes) -> str:
    import zipfile

    from docx import Document

    try:
        document = Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ResumeParseError(
            f"the Word document cannot be read ({exc.__class__.__name__})"
        ) from None
    lines = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        text = paragraph.text.strip()
        lines.append(f"• {text}" if text and "list" in style else text)
    for table in document.tables:
        for row in table.rows:
            lines.append("  ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


_SECTIONS = {
    "summary": ("summary", "profile", "about me", "about", "objective", "professional summary"),
    "experience": (
        "experience",
        "work experience",
        "professional experience",
        "employment",
        "employment history",
        "work history",
        "career history",
    ),
    "skills": ("skills", "technical skills", "core skills", "key skills", "competencies"),
    "education": ("education", "qualifications", "education and training", "certifications"),
}
_HEADING = {alias: key for key, aliases in _SECTIONS.items() for alias in aliases}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+?\d[\d ()./-]{7,}\d)")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = rf"(?:{_MONTH}\s+)?(?:\d{{1,2}}/)?(?:19|20)\d{{2}}"
_RANGE = re.compile(
    rf"(?P<start>{_DATE})\s*(?:–|—|-|to)\s*(?P<end>{_DATE}|present|current|now|today)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[•\-*▪●◦·]|\d+[.)])\s+")


def _heading(line: str) -> str | None:
    cleaned = re.sub(r"[:\s]+$", "", line.strip()).lower()
    return _HEADING.get(cleaned) if len(cleaned) < 40 else None


def parse_text(text: str) -> StructuredResume:
    lines = [line.rstrip() for line in text.split("\n")]
    resume = StructuredResume()
    sections: dict[str, list[str]] = {"header": []}
    current = "header"
    for line in lines:
        key = _heading(line)
        if key is not None:
            current = key
            sections.setdefault(current, [])
            continue
        sections.setdefault(current, []).append(line)

    header = [line.strip() for line in sections["header"] if line.strip()]
    email = _EMAIL.search(text)
    resume.email = email.group(0) if email else ""
    phone = _PHONE.search("\n".join(header) or text)
    resume.phone = phone.group(0).strip() if phone else ""
    for line in header:
        if not _EMAIL.search(line) and not _PHONE.search(line) and len(line) <= 80:
            resume.name = line
            break
    for line in header[1:]:
        parts = [p.strip() for p in re.split(r"[|·•]", line)]
        for part in parts:
            if (
                part
                and "," in part
                and not _EMAIL.search(part)
                and not _PHONE.search(part)
                and len(part) < 60
            ):
                resume.location = part
                break
        if resume.location:
            break

    resume.summary = " ".join(
        " ".join(line.split()) for line in sections.get("summary", []) if line.strip()
    )
    resume.skills = _skills(sections.get("skills", []))
    resume.education = [
        " ".join(line.split()) for line in sections.get("education", []) if line.strip()
    ]
    resume.experiences = _experiences(sections.get("experience", []))
    return resume


def _skills(lines: list[str]) -> list[str]:
    out: list[str] = []
    for raw in lines:
        line = _BULLET.sub("", raw)
        if ":" in line:
            line = line.split(":", 1)[1]
        for piece in re.split(r"[,;|•·]", line):
            part = " ".join(piece.split())
            if part and len(part) <= 60 and part.lower() not in {s.lower() for s in out}:
                out.append(part)
    return out[:100]


def _split_role(text: str) -> tuple[str, str]:
    """(title, employer) from 'Title at Employer', 'Title, Employer' or 'Employer — Title'."""
    text = " ".join(text.replace("|", ",").split()).strip(" ,–—-")
    for separator in (" at ", " @ "):
        if separator in text:
            title, employer = text.split(separator, 1)
            return title.strip(" ,"), employer.strip(" ,")
    for separator in (",", " – ", " — ", " - "):
        if separator in text:
            first, second = text.split(separator, 1)
            return first.strip(" ,"), second.strip(" ,")
    return text, ""


def _experiences(lines: list[str]) -> list[Experience]:
    entries: list[Experience] = []
    pending: list[str] = []  # non-bullet lines since the last entry: its title/employer
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        match = _RANGE.search(line)
        if match:
            rest = (line[: match.start()] + line[match.end() :]).strip(" ,|()–—-")
            role_text = rest or (pending[-1] if pending else "")
            if not rest and len(pending) >= 2:
                role_text = f"{pending[-2]}, {pending[-1]}"
            title, employer = _split_role(role_text)
            entries.append(
                Experience(
                    employer=employer,
                    title=title,
                    start=match.group("start"),
                    end=match.group("end"),
                )
            )
            pending = []
            continue
        if _BULLET.match(line) and entries:
            entries[-1].bullets.append(_BULLET.sub("", line).strip())
        elif entries and not pending and entries[-1].bullets and line[:1].islower():
            entries[-1].bullets[-1] += " " + line  # a bullet wrapped onto the next line
        elif entries and not entries[-1].employer and not pending:
            entries[-1].employer = line
        else:
            pending.append(line)
    return entries[:30]


def parse_upload(data: bytes, filename: str) -> tuple[StructuredResume, str]:
    """Read and parse an upload; returns the structured guess and the raw text."""
    text = extract_text(data, filename)
    return parse_text(text), text
