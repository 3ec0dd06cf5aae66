"""Reading résumés: plain text, Word and PDF files built in the test."""

from __future__ import annotations

import io

import pytest

from peregrine.services.resume_parser import ResumeParseError, parse_text, parse_upload

CV = """Alice Example
alice@example.org | +44 20 7946 0958 | London, UK

Summary
Backend engineer who likes reliable systems.

Experience
Senior Engineer at Acme Ltd   Jan 2020 – Present
• Built the billing pipeline
• Led a team of four
Engineer, Widgets Inc
2016 - 2019
- Wrote Python services

Skills
Python, SQL; Kubernetes

Education
BSc Computer Science, University of Leeds, 2015
"""


def _pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with real text objects (what an exported résumé holds)."""
    text = (
        "BT /F1 12 Tf 72 720 Td 14 TL "
        + " ".join("(" + line.replace("(", r"\(").replace(")", r"\)") + ") '" for line in lines)
        + " ET"
    )
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def test_it_reads_contact_summary_experience_skills_and_education() -> None:
    resume = parse_text(CV)
    assert (resume.name, resume.email, resume.location) == (
        "Alice Example",
        "alice@example.org",
        "London, UK",
    )
    assert resume.phone == "+44 20 7946 0958"
    assert resume.summary.startswith("Backend engineer")
    first, second = resume.experiences
    assert (first.title, first.employer, first.start, first.end) == (
        "Senior Engineer",
        "Acme Ltd",
        "Jan 2020",
        "Present",
    )
    assert first.bullets == ["Built the billing pipeline", "Led a team of four"]
    assert (second.title, second.employer, second.bullets) == (
        "Engineer",
        "Widgets Inc",
        ["Wrote Python services"],
    )
    assert resume.skills == ["Python", "SQL", "Kubernetes"]
    assert resume.education == ["BSc Computer Science, University of Leeds, 2015"]


def test_it_reads_a_pdf() -> None:
    data = _pdf(["Bob Builder", "bob@example.org", "Skills", "Carpentry, Welding"])
    resume, text = parse_upload(data, "cv.pdf")
    assert "Bob Builder" in text
    assert resume.email == "bob@example.org"
    assert resume.skills == ["Carpentry", "Welding"]


def test_it_reads_a_word_document_with_list_bullets() -> None:
    from docx import Document

    document = Document()
    for line in (
        "Carol Jones",
        "carol@example.org",
        "Experience",
        "Nurse at St Mary's 2018 - 2022",
    ):
        document.add_paragraph(line)
    document.add_paragraph("Ran the night shift", style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    resume, _ = parse_upload(buffer.getvalue(), "cv.docx")
    assert resume.experiences[0].employer == "St Mary's"
    assert resume.experiences[0].bullets == ["Ran the night shift"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "cv.txt", "empty"),
        (b"\xff\xfe\x00binary", "cv.bin", "not a PDF"),
        (b"hello", "cv.pdf", "does not look like a real pdf"),
        (b"%PDF-1.4 garbage", "cv.pdf", "cannot be read"),
        (b"PK\x03\x04 not a zip", "cv.docx", "cannot be read"),
        (b"x" * (6 * 1024 * 1024), "cv.txt", "larger than"),
    ],
)
def test_it_explains_files_it_cannot_read(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ResumeParseError, match=message):
        parse_upload(data, name)
