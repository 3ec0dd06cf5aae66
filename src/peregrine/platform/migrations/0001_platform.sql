-- Platform schema: what spans users. Per-user content never lives here.

CREATE TABLE subscriptions (
    user_id     uuid        NOT NULL,
    product     text        NOT NULL DEFAULT 'peregrine',
    tier        text        NOT NULL CHECK (tier IN ('free', 'paid', 'premium', 'ultra')),
    status      text        NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'trialing', 'past_due', 'cancelled', 'expired')),
    period_end  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, product)
);

-- No row means "never chose": treated as not consenting unless the operator's
-- TELEMETRY_DEFAULT_CONSENT says otherwise. all_disabled overrides every other column.
CREATE TABLE telemetry_consent (
    user_id                 uuid        PRIMARY KEY,
    all_disabled            boolean     NOT NULL DEFAULT false,
    usage_events_enabled    boolean     NOT NULL DEFAULT false,
    content_sharing_enabled boolean     NOT NULL DEFAULT false,
    support_access_enabled  boolean     NOT NULL DEFAULT false,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- Written only by peregrine.platform.usage (a test scans the source tree for other writers).
CREATE TABLE usage_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         uuid        NOT NULL,
    app             text        NOT NULL,
    event_type      text        NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- A retried flush must not count an event twice.
    idempotency_key uuid        NOT NULL UNIQUE
);
CREATE INDEX usage_events_user_time ON usage_events (user_id, occurred_at);
CREATE INDEX usage_events_type_time ON usage_events (event_type, occurred_at);

CREATE TABLE support_access_grants (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid        NOT NULL,
    ticket_ref  text        NOT NULL CHECK (length(ticket_ref) BETWEEN 3 AND 64),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CHECK (expires_at >= granted_at + interval '4 hours'
           AND expires_at <= granted_at + interval '72 hours')
);
CREATE INDEX support_access_grants_user ON support_access_grants (user_id, expires_at);

-- Account deletions waiting for their grace period (used by the GDPR work).
CREATE TABLE pending_deletions (
    user_id       uuid        PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    scheduled_for timestamptz NOT NULL,
    requested_by  text        NOT NULL DEFAULT 'user' CHECK (requested_by IN ('user', 'operator')),
    status        text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'in_progress', 'done', 'cancelled')),
    completed_at  timestamptz,
    CHECK (scheduled_for >= requested_at)
);
CREATE INDEX pending_deletions_due ON pending_deletions (status, scheduled_for);
