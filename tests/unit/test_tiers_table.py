"""The feature → minimum tier table."""

from __future__ import annotations

import pytest

from peregrine.platform.tiers import (
    FEATURES,
    TIERS,
    Ungated,
    UnknownFeature,
    UnknownTier,
    check_tier,
    tier_allows,
)


def test_every_feature_names_a_known_tier() -> None:
    assert set(FEATURES.values()) <= set(TIERS)


def test_higher_tiers_include_everything_lower_tiers_have() -> None:
    for feature in FEATURES:
        allowed = [tier_allows(tier, feature) for tier in TIERS]
        assert allowed == sorted(allowed), feature  # once allowed, allowed from then on


def test_free_gets_the_basics_and_not_the_paid_features() -> None:
    assert tier_allows("free", "job_tracking")
    assert not tier_allows("free", "cover_letter")
    assert tier_allows("paid", "cover_letter")
    assert not tier_allows("paid", "interview_prep")
    assert tier_allows("ultra", "interview_prep")


def test_an_unknown_stored_tier_counts_as_free() -> None:
    assert not tier_allows("platinum", "cover_letter")


def test_unknown_names_are_errors() -> None:
    with pytest.raises(UnknownFeature):
        tier_allows("free", "teleport")
    with pytest.raises(UnknownTier, match="free, paid, premium, ultra"):
        check_tier("gold")


def test_local_mode_allows_every_feature() -> None:
    ungated = Ungated()
    assert all(ungated.allows(None, feature) for feature in FEATURES)
