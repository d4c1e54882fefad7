"""A new row's column values built without an instance match the instance's own (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import SQLModel

import app.models as models
from app.repositories.rows import new_values

TABLE_MODELS = sorted(
    (
        model
        for model in vars(models).values()
        if isinstance(model, type) and issubclass(model, SQLModel) and hasattr(model, "__table__")
    ),
    key=lambda model: model.__name__,
)


def _required(model: type[SQLModel]) -> dict[str, Any]:
    return {
        name: f"given {name}" for name, info in model.model_fields.items() if info.is_required()
    }


def test_every_table_model_is_covered() -> None:
    assert {"OrderEvent", "OutboxMessage", "RepairOrder"} <= {m.__name__ for m in TABLE_MODELS}


# The given values are placeholders of the wrong type for most columns: dumping them warns.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
@pytest.mark.parametrize("model", TABLE_MODELS, ids=lambda model: model.__name__)
def test_new_values_are_what_the_instance_would_write(model: type[SQLModel]) -> None:
    given = _required(model)
    expected = model(**given).model_dump()
    values = new_values(model, **given)
    assert values.keys() == expected.keys()
    for name, info in model.model_fields.items():
        if info.default_factory is not None:  # a new id, the current time, an empty list…
            assert type(values[name]) is type(expected[name]), name
        else:
            assert values[name] == expected[name], name


def test_factories_run_for_each_row_and_mistakes_are_refused() -> None:
    given = _required(models.OrderEvent)
    first, second = new_values(models.OrderEvent, **given), new_values(models.OrderEvent, **given)
    assert first["id"] != second["id"]
    assert first["payload"] == {} and first["payload"] is not second["payload"]
    missing = dict(given)
    missing.pop("action")
    with pytest.raises(TypeError, match="needs a value for action"):
        new_values(models.OrderEvent, **missing)
    with pytest.raises(TypeError, match="has no field colour"):
        new_values(models.OrderEvent, **given, colour="blue")
    # A column may be called like the parameter naming the table model.
    watch = new_values(models.Watch, **_required(models.Watch), model="Speedmaster")
    assert watch["model"] == "Speedmaster"
