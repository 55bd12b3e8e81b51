"""The endpoint guard's shape check on bodies Bolt would trip over."""

from __future__ import annotations

import json

import pytest

from bot.guard import JSON, Rejected, check_shape


def _body(**fields: object) -> bytes:
    return json.dumps({"type": "url_verification", "challenge": "c", "team_id": "T1", **fields}).encode()


@pytest.mark.parametrize("field", ["event", "view"])
def test_a_null_object_field_is_refused_with_its_name(field: str) -> None:
    # Bolt reads these with body.get(field, {}).get(...): a JSON null would raise inside Bolt (a 500).
    for content_type in (JSON, "text/plain"):
        with pytest.raises(Rejected) as refused:
            check_shape(content_type, _body(**{field: None}))
        assert field in str(refused.value.args)


def test_a_well_formed_url_verification_passes() -> None:
    check_shape(JSON, _body())
    check_shape(JSON, _body(event={"type": "app_mention"}))
