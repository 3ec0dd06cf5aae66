"""The record of model calls and the usage summary built from it."""

from __future__ import annotations

from typing import Any


def record_call(
    conn: Any,
    *,
    at: str,
    purpose: str,
    backend: str,
    model: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    latency_ms: float,
    error: str,
) -> None:
    conn.execute(
        "INSERT INTO llm_calls (at, purpose, backend, model, prompt_tokens, completion_tokens, "
        "latency_ms, ok, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at,
            purpose,
            backend,
            model,
            prompt_tokens,
            completion_tokens,
            round(latency_ms, 2),
            0 if error else 1,
            error[:500],
        ),
    )


def usage_summary(conn: Any, *, since: str) -> list[dict[str, Any]]:
    """Per backend and purpose since ``since``: calls, failures, tokens, latency."""
    rows = conn.execute(
        "SELECT backend, purpose, count(*) AS calls, sum(1 - ok) AS failures, "
        "coalesce(sum(prompt_tokens), 0) AS prompt_tokens, "
        "coalesce(sum(completion_tokens), 0) AS completion_tokens, "
        "round(avg(CASE WHEN ok THEN latency_ms END), 1) AS avg_latency_ms, "
        "max(at) AS last_call_at "
        "FROM llm_calls WHERE at >= ? GROUP BY backend, purpose ORDER BY backend, purpose",
        (since,),
    )
    return [dict(r) for r in rows]


def recent_calls(conn: Any, *, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, at, purpose, backend, model, prompt_tokens, completion_tokens, latency_ms, "
        "ok, error FROM llm_calls ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [{**dict(r), "ok": bool(r["ok"])} for r in rows]
