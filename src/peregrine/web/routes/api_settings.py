"""JSON API for the user's settings: profile, résumé, search profiles, keywords, blocklist
and (local mode) LLM backends. Each PUT validates the whole body before one write."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field, field_validator

from peregrine.lib.clock import now_iso
from peregrine.services.resume_parser import (
    ResumeParseError,
    StructuredResume,
    parse_upload,
)
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q
from peregrine.web.deps import UserDBDep
from peregrine.web.rescore import submit_rescore

router = APIRouter(prefix="/api/v1", tags=["settings"])

ShortText = Annotated[str, Field(max_length=200)]
Term = Annotated[str, Field(min_length=1, max_length=200)]


class ProfileIn(BaseModel):
    full_name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254, pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$")
    phone: str = Field(default="", max_length=50)
    location: str = Field(default="", max_length=200)
    links: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=20)
    summary: str = Field(default="", max_length=5000)
    voice: str = Field(default="", max_length=2000)
    mission_causes: list[ShortText] = Field(default_factory=list, max_length=50)
    nda_companies: list[ShortText] = Field(default_factory=list, max_length=100)

    @field_validator("links")
    @classmethod
    def _web_links(cls, links: list[str]) -> list[str]:
        for link in links:
            if not link.startswith(("https://", "http://")):
                raise ValueError(f"links must start with https:// (not {link[:80]!r})")
        return links


@router.get("/profile")
def get_profile(db: UserDBDep) -> dict[str, Any]:
    with db.read() as conn:
        return profile_q.get_profile(conn).to_dict()


@router.put("/profile")
def put_profile(db: UserDBDep, body: ProfileIn) -> dict[str, Any]:
    profile = profile_q.Profile(**body.model_dump())
    with db.write() as conn:
        profile_q.save_profile(conn, profile=profile, now=now_iso())
    return profile.to_dict()


class ExperienceIn(BaseModel):
    employer: str = Field(default="", max_length=200)
    title: str = Field(min_length=1, max_length=200)
    start: str = Field(default="", max_length=40)
    end: str = Field(default="", max_length=40)
    bullets: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=40
    )


class ResumeIn(BaseModel):
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=50)
    location: str = Field(default="", max_length=200)
    summary: str = Field(default="", max_length=5000)
    experiences: list[ExperienceIn] = Field(default_factory=list, max_length=30)
    skills: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=200
    )
    education: list[ShortText] = Field(default_factory=list, max_length=50)
    raw_text: str = Field(default="", max_length=200_000)
    filename: str = Field(default="", max_length=200)


@router.get("/resume")
def get_resume(db: UserDBDep) -> dict[str, Any]:
    with db.read() as conn:
        current = profile_q.current_resume(conn)
    if current is None:
        raise HTTPException(404, "no résumé has been saved yet")
    return {
        "version": current.version,
        "structured": current.structured,
        "filename": current.filename,
        "created_at": current.created_at,
    }


@router.post("/resume", status_code=201)
def save_resume(request: Request, db: UserDBDep, body: ResumeIn) -> dict[str, Any]:
    """Save a (corrected) structured résumé as a new version."""
    data = body.model_dump()
    raw_text, filename = data.pop("raw_text"), data.pop("filename")
    structured = StructuredResume.from_dict(data).to_dict()
    with db.write() as conn:
        version = profile_q.add_resume(
            conn, structured=structured, raw_text=raw_text, filename=filename, now=now_iso()
        )
    submit_rescore(request, db)
    return {"version": version, "structured": structured}


@router.post("/resume/parse")
async def parse_resume(file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """Read an uploaded PDF, DOCX or text résumé; nothing is saved."""
    data = await file.read()
    try:
        structured, raw_text = parse_upload(data, file.filename or "resume")
    except ResumeParseError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"structured": structured.to_dict(), "raw_text": raw_text}


class SearchProfileIn(BaseModel):
    titles: list[ShortText] = Field(min_length=1, max_length=50)
    locations: list[ShortText] = Field(default_factory=list, max_length=50)
    remote_preference: Literal["any", "remote", "hybrid", "onsite"] = "any"
    sources: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=30)
    exclude_keywords: list[ShortText] = Field(default_factory=list, max_length=200)
    results_per_source: int = Field(default=50, ge=1, le=1000)
    max_age_days: int = Field(default=14, ge=1, le=365)
    mission_tags: list[ShortText] = Field(default_factory=list, max_length=50)
    watch_companies: list[ShortText] = Field(default_factory=list, max_length=200)
    salary_floor: float | None = Field(default=None, ge=0, le=10_000_000)
    enabled: bool = True


@router.get("/search-profiles")
def list_search_profiles(db: UserDBDep) -> dict[str, Any]:
    with db.read() as conn:
        return {"items": [p.to_dict() for p in profile_q.list_search_profiles(conn)]}


@router.put("/search-profiles/{name}")
def put_search_profile(db: UserDBDep, name: str, body: SearchProfileIn) -> dict[str, Any]:
    """Create or replace the search profile called ``name``."""
    if not name.strip() or len(name) > 100:
        raise HTTPException(422, "the name must be 1 to 100 characters")
    profile = profile_q.SearchProfile(name=name.strip(), **body.model_dump())
    with db.write() as conn:
        profile_q.save_search_profile(conn, profile=profile, now=now_iso())
        saved = profile_q.get_search_profile(conn, name=profile.name)
    assert saved is not None
    return saved.to_dict()


@router.delete("/search-profiles/{name}", status_code=204)
def delete_search_profile(db: UserDBDep, name: str) -> None:
    with db.write() as conn:
        if not profile_q.delete_search_profile(conn, name=name):
            raise HTTPException(404, f"no search profile called {name!r}")


class KeywordsIn(BaseModel):
    skill: list[Term] = Field(default_factory=list, max_length=500)
    preferred: list[Term] = Field(default_factory=list, max_length=500)
    exclude: list[Term] = Field(default_factory=list, max_length=500)


class BlocklistIn(BaseModel):
    company: list[Term] = Field(default_factory=list, max_length=1000)
    industry: list[Term] = Field(default_factory=list, max_length=1000)
    location: list[Term] = Field(default_factory=list, max_length=1000)


@router.get("/keywords")
def get_keywords(db: UserDBDep) -> dict[str, list[str]]:
    with db.read() as conn:
        return profile_q.list_keywords(conn)


@router.put("/keywords")
def put_keywords(request: Request, db: UserDBDep, body: KeywordsIn) -> dict[str, list[str]]:
    with db.write() as conn:
        profile_q.replace_keywords(conn, entries=body.model_dump())
        saved = profile_q.list_keywords(conn)
    submit_rescore(request, db)
    return saved


@router.get("/blocklist")
def get_blocklist(db: UserDBDep) -> dict[str, list[str]]:
    with db.read() as conn:
        return profile_q.list_blocklist(conn)


@router.put("/blocklist")
def put_blocklist(db: UserDBDep, body: BlocklistIn) -> dict[str, list[str]]:
    with db.write() as conn:
        profile_q.replace_blocklist(conn, entries=body.model_dump())
        return profile_q.list_blocklist(conn)


class BackendIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    kind: Literal["ollama", "openai_compatible", "anthropic"]
    base_url: str = Field(default="", max_length=500, pattern=r"^(https?://.*)?$")
    model: str = Field(min_length=1, max_length=200)
    enabled: bool = True


class BackendsIn(BaseModel):
    items: list[BackendIn] = Field(max_length=8)


@router.get("/settings/llm-backends")
def get_backends(db: UserDBDep) -> dict[str, Any]:
    with db.read() as conn:
        return {"items": pref_q.get_preference(conn, key="llm_backends", default=[])}


@router.put("/settings/llm-backends")
def put_backends(request: Request, db: UserDBDep, body: BackendsIn) -> dict[str, Any]:
    if request.app.state.settings.mode != "local":
        raise HTTPException(403, "LLM backends are set by the operator in this mode")
    names = [b.name.lower() for b in body.items]
    if len(names) != len(set(names)):
        raise HTTPException(422, "backend names must be unique")
    items = [b.model_dump() for b in body.items]
    with db.write() as conn:
        pref_q.set_preference(conn, key="llm_backends", value=items)
    return {"items": items}
