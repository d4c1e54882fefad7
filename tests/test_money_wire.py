"""Amounts on the wire: the fast integer rendering says exactly what the Decimal domain says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.amounts import Money
from app.schemas.money import MoneyRead


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_cents_render_as_the_domain_renders_them(cents: int) -> None:
    rendered = MoneyRead.cents(cents, "EUR")
    assert rendered.amount == Money.from_cents(cents, "EUR").text()
    assert rendered.currency == "EUR"
    assert MoneyRead.of(Money.from_cents(cents)) == rendered
