"""Money, quote totals and invoices: exact to the cent, whatever the lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.amounts import Money, round_cent
from app.domain.errors import BusinessValidationError
from app.domain.handback import add_months
from app.domain.invoicing import (
    WorkshopIdentity,
    build_invoice,
    format_invoice_number,
    invoice_required,
)
from app.domain.quoting import (
    VAT_EXEMPT_MENTION,
    LineKind,
    QuoteLine,
    VatRegime,
    accepted,
    amount_due,
    balance_in_cents,
    check_accepted_optional,
    default_valid_until,
    fee_line,
    is_expired,
    line_total,
    mandatory_only,
    needs_manager_review,
    totals,
    validate_lines,
    within_ceiling,
)

prices = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
rates = st.sampled_from([Decimal("0.20"), Decimal("0.10"), Decimal("0.055"), Decimal("0")])
lines_strategy = st.lists(
    st.builds(
        QuoteLine,
        line_id=st.uuids().map(str),
        kind=st.sampled_from(LineKind),
        code=st.just("x"),
        description=st.just("x"),
        quantity=st.integers(min_value=1, max_value=1000),
        unit_price=prices.map(Money.of),
        vat_rate=rates,
        mandatory=st.booleans(),
        warranty_months=st.integers(min_value=0, max_value=24),
    ),
    min_size=1,
    max_size=15,
)


def line(price: str, quantity: int = 1, rate: str = "0.20", mandatory: bool = True) -> QuoteLine:
    return QuoteLine(
        line_id=f"{price}-{quantity}-{mandatory}",
        kind=LineKind.SERVICE,
        code="c",
        description="d",
        quantity=quantity,
        unit_price=Money.of(price),
        vat_rate=Decimal(rate),
        mandatory=mandatory,
    )


def test_rounding_is_half_up_to_the_cent() -> None:
    assert round_cent(Decimal("0.005")) == Decimal("0.01")
    assert round_cent(Decimal("2.675")) == Decimal("2.68")
    assert round_cent(Decimal("2.665")) == Decimal("2.67")
    assert round_cent(Decimal("-0.005")) == Decimal("-0.01")


def test_money_never_comes_from_a_float_and_serialises_with_two_decimals() -> None:
    with pytest.raises(TypeError):
        Money.of(0.1)  # type: ignore[arg-type]
    with pytest.raises(BusinessValidationError):
        Money.of("NaN")
    assert Money.of("12.5").as_json() == {"amount": "12.50", "currency": "EUR"}
    assert Money.from_cents(1999).text() == "19.99"
    assert Money.of("19.99").to_cents() == 1999
    with pytest.raises(ValueError):
        Money.of("1") + Money.of("1", "CHF")


def test_vat_is_rounded_per_line_then_summed() -> None:
    odd = [line("0.33", 1, "0.20"), line("0.33", 1, "0.20"), line("0.33", 1, "0.20")]
    result = totals(odd, VatRegime.STANDARD, "EUR")
    assert result.excl_vat.text() == "0.99"
    assert result.vat.text() == "0.21"  # 3 × round(0.066) = 3 × 0.07, not round(0.198) = 0.20
    assert result.incl_vat.text() == "1.20"


def test_exempt_regime_charges_no_vat_and_carries_the_legal_mention() -> None:
    result = totals([line("100.00")], VatRegime.EXEMPT, "EUR")
    assert result.vat.text() == "0.00"
    assert result.incl_vat.text() == "100.00"
    assert result.vat_mention == VAT_EXEMPT_MENTION
    assert totals([line("1")], VatRegime.STANDARD, "EUR").vat_mention is None


@given(lines=lines_strategy, regime=st.sampled_from(VatRegime))
def test_totals_are_the_sums_of_the_rounded_lines(
    lines: list[QuoteLine], regime: VatRegime
) -> None:
    result = totals(lines, regime, "EUR")
    per_line = [line_total(item, regime) for item in lines]
    assert result.excl_vat.amount == sum((p.excl_vat.amount for p in per_line), Decimal(0))
    assert result.vat.amount == sum((p.vat.amount for p in per_line), Decimal(0))
    assert result.incl_vat.amount == result.excl_vat.amount + result.vat.amount
    assert sum((s.vat.amount for s in result.vat_breakdown), Decimal(0)) == result.vat.amount
    assert sum((s.base.amount for s in result.vat_breakdown), Decimal(0)) == result.excl_vat.amount
    assert not result.incl_vat.is_negative()
    assert result.incl_vat.amount == result.incl_vat.amount.quantize(Decimal("0.01"))


@given(lines=lines_strategy, data=st.data())
def test_refused_optional_lines_are_left_out(lines: list[QuoteLine], data: st.DataObject) -> None:
    optional = [item.line_id for item in lines if not item.mandatory]
    chosen = data.draw(st.lists(st.sampled_from(optional), unique=True)) if optional else []
    check_accepted_optional(lines, chosen)
    result = totals(lines, VatRegime.STANDARD, "EUR", accepted(chosen))
    expected = [item for item in lines if item.mandatory or item.line_id in chosen]
    assert result == totals(expected, VatRegime.STANDARD, "EUR")
    assert totals(lines, VatRegime.STANDARD, "EUR", mandatory_only).incl_vat <= result.incl_vat


def test_only_optional_lines_may_be_accepted() -> None:
    lines = [line("10"), line("5", mandatory=False)]
    with pytest.raises(BusinessValidationError) as refused:
        check_accepted_optional(lines, [lines[0].line_id])
    assert refused.value.extensions["errors"][0]["pointer"] == "/accepted_optional_lines/0"
    with pytest.raises(BusinessValidationError):
        check_accepted_optional(lines, ["unknown"])


def test_invalid_lines_are_refused_with_pointers() -> None:
    with pytest.raises(BusinessValidationError):
        validate_lines([])
    with pytest.raises(BusinessValidationError) as refused:
        validate_lines([line("1"), line("1", quantity=0)])
    assert refused.value.extensions["errors"][0]["pointer"] == "/lines/1/quantity"
    with pytest.raises(BusinessValidationError):
        validate_lines([QuoteLine("x", LineKind.PART, "p", "d", 1, Money.of("-1"))])
    with pytest.raises(BusinessValidationError):
        validate_lines([line("1", rate="1.5")])


def test_manager_review_above_the_threshold_and_ceiling_at_or_below() -> None:
    threshold = Money.of("500.00")
    assert not needs_manager_review(Money.of("500.00"), threshold)
    assert needs_manager_review(Money.of("500.01"), threshold)
    ceiling = Money.of("150.00")
    assert within_ceiling(Money.of("150.00"), ceiling)
    assert not within_ceiling(Money.of("150.01"), ceiling)
    assert not within_ceiling(Money.of("1.00"), None)


def test_a_quote_is_valid_through_its_last_day() -> None:
    valid_until = default_valid_until(date(2026, 11, 23), 30)
    assert valid_until == date(2026, 12, 23)
    assert not is_expired(valid_until, date(2026, 12, 23))
    assert is_expired(valid_until, date(2026, 12, 24))


def test_amount_due_deducts_the_deposit_and_refunds_a_surplus() -> None:
    zero = Money.zero()
    due = amount_due(approved_total=Money.of("388.20"), fee_due=zero, deposit=Money.of("50"),
                     free_of_charge=False)  # fmt: skip
    assert (due.due.text(), due.refund.text()) == ("338.20", "0.00")
    fee_only = amount_due(approved_total=zero, fee_due=Money.of("25"), deposit=Money.of("40"),
                          free_of_charge=False)  # fmt: skip
    assert (fee_only.due.text(), fee_only.refund.text()) == ("0.00", "15.00")
    warranty = amount_due(approved_total=Money.of("90"), fee_due=zero, deposit=zero,
                          free_of_charge=True)  # fmt: skip
    assert warranty.due.text() == "0.00"


@given(
    approved=prices.map(Money.of), fee=prices.map(Money.of), deposit=prices.map(Money.of),
    free=st.booleans(),
)  # fmt: skip
def test_amount_due_is_never_negative(
    approved: Money, fee: Money, deposit: Money, free: bool
) -> None:
    result = amount_due(approved_total=approved, fee_due=fee, deposit=deposit, free_of_charge=free)
    assert not result.due.is_negative() and not result.refund.is_negative()
    assert result.due.amount == 0 or result.refund.amount == 0


def test_warranty_months_clamp_to_the_end_of_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 23), 24) == date(2028, 11, 23)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_invoice_carries_the_mandatory_mentions() -> None:
    workshop = WorkshopIdentity(
        name="Atelier Horloger", address="1 rue X, Paris", siret="123 456 789 00012",
        vat_number="FR00123456789", vat_regime=VatRegime.STANDARD,
        mediator_name="Médiateur de la consommation", mediator_contact="mediateur.example",
    )  # fmt: skip
    lines = [line("225.00")]
    document = build_invoice(
        number=format_invoice_number(2026, 123), issued_on=date(2026, 11, 23), workshop=workshop,
        customer_name="Claire Martin", order_number="2026-000001",
        work_started_on=date(2026, 11, 2), work_finished_on=date(2026, 11, 23), lines=lines,
        totals=totals(lines, VatRegime.STANDARD, "EUR"), deposit=Money.of("50"),
        amount_due=Money.of("220"), refund=Money.zero(),
    )  # fmt: skip
    assert document["number"] == "F-2026-000123"
    assert document["workshop"]["siret"] == "123 456 789 00012"
    assert document["customer"] == {"name": "Claire Martin"}
    assert document["work"]["place"] == "1 rue X, Paris"
    assert document["totals"]["excl_vat"]["amount"] == "225.00"
    assert document["totals"]["incl_vat"]["amount"] == "270.00"
    assert document["totals"]["vat_breakdown"][0]["rate"] == "20 %"
    assert document["mediator"]["name"] == "Médiateur de la consommation"
    assert document["lines"][0]["warranty_until"] == "2027-11-23"
    assert invoice_required(Money.of("25.00"))
    assert not invoice_required(Money.of("24.99"))


def test_the_diagnosis_fee_is_a_service_charged_with_vat() -> None:
    fee = fee_line(Money.of("25.00"))
    charged = line_total(fee, VatRegime.STANDARD)
    assert (charged.excl_vat.text(), charged.vat.text(), charged.incl_vat.text()) == (
        "25.00", "5.00", "30.00",
    )  # fmt: skip
    assert line_total(fee, VatRegime.EXEMPT).incl_vat.text() == "25.00"
    assert fee.warranty_months == 0


@given(
    approved=st.integers(0, 10**9),
    fee=st.integers(0, 10**7),
    deposit=st.integers(0, 10**9),
    free=st.booleans(),
)
def test_the_balance_in_cents_is_owed_less_deposit_split_into_due_or_refund(
    approved: int, fee: int, deposit: int, free: bool
) -> None:
    due, refund = balance_in_cents(
        approved_total=approved, fee_due=fee, deposit=deposit, free_of_charge=free
    )
    owed = 0 if free else approved + fee
    assert due - refund == owed - deposit
    assert min(due, refund) == 0 and due >= 0 and refund >= 0
    as_money = amount_due(
        approved_total=Money.from_cents(approved),
        fee_due=Money.from_cents(fee),
        deposit=Money.from_cents(deposit),
        free_of_charge=free,
    )
    assert (as_money.due.to_cents(), as_money.refund.to_cents()) == (due, refund)
