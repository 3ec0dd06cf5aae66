"""The platform database (PostgreSQL, cloud mode only): subscriptions, consent, usage
events, support-access grants and pending deletions — what spans users."""
