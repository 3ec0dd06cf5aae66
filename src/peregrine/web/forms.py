"""Reading form fields with validation: every problem is collected (field → message) so the
page can re-render the form with all messages at once and keep what the user typed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.datastructures import FormData, UploadFile


class FormReader:
    def __init__(self, form: FormData) -> None:
        self.form = form
        self.errors: dict[str, str] = {}
        # What the user typed, as typed, for re-rendering.
        self.values: dict[str, Any] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def raw(self, name: str) -> str:
        value = self.form.get(name)
        return value if isinstance(value, str) else ""

    def text(self, name: str, *, label: str, max_len: int = 500, required: bool = False) -> str:
        value = self.raw(name).strip()
        self.values[name] = value
        if required and not value:
            self.errors[name] = f"{label} is required."
        elif len(value) > max_len:
            self.errors[name] = f"{label} must be at most {max_len} characters."
        return value

    def lines(
        self, name: str, *, label: str, max_items: int = 200, max_len: int = 200
    ) -> list[str]:
        """One entry per line (commas also separate, for people who type lists inline)."""
        raw = self.raw(name)
        self.values[name] = raw
        items: list[str] = []
        for line in raw.replace("\r", "").split("\n"):
            for piece in line.split(",") if "," in line and "http" not in line else [line]:
                part = " ".join(piece.split())
                if part and part.lower() not in {i.lower() for i in items}:
                    items.append(part)
        too_long = [i for i in items if len(i) > max_len]
        if too_long:
            self.errors[name] = f"{label}: entries must be at most {max_len} characters."
        elif len(items) > max_items:
            self.errors[name] = f"{label}: at most {max_items} entries."
        return items

    def integer(self, name: str, *, label: str, low: int, high: int, default: int) -> int:
        raw = self.raw(name).strip()
        self.values[name] = raw
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.errors[name] = f"{label} must be a whole number."
            return default
        if not low <= value <= high:
            self.errors[name] = f"{label} must be between {low} and {high}."
        return value

    def number(self, name: str, *, label: str, low: float, high: float) -> float | None:
        raw = self.raw(name).strip().replace(",", "")
        self.values[name] = self.raw(name).strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.errors[name] = f"{label} must be a number."
            return None
        if not low <= value <= high:
            self.errors[name] = f"{label} must be between {low:g} and {high:g}."
        return value

    def choice(self, name: str, *, label: str, choices: Iterable[str], default: str) -> str:
        allowed = list(choices)
        raw = self.raw(name).strip() or default
        self.values[name] = raw
        if raw not in allowed:
            self.errors[name] = f"{label} must be one of: {', '.join(allowed)}."
            return default
        return raw

    def boolean(self, name: str) -> bool:
        value = self.raw(name) in {"1", "on", "true", "yes"}
        self.values[name] = value
        return value

    def file(self, name: str) -> UploadFile | None:
        value = self.form.get(name)
        if isinstance(value, UploadFile) and value.filename:
            return value
        return None
