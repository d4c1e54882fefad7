"""An ``AsyncSession`` whose ORM side is made when something first needs it.

The hot reads (an order by id, a list page, the tracking page) run prepared statements on a
driver connection the session holds itself (``app/prepared.py``) and never touch SQLAlchemy's
``Session``. Making one for each of them anyway, and dropping it, was ≈ 8 µs of CPU a request
and 2–9 % of such a read's instructions (docs/benchmarks.md, twentieth round). Here
``AsyncSession.__init__`` runs at the first use of anything of the ORM's: a statement through
the session, its ``info``, its ``sync_session``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

# What ``AsyncSession.__init__`` sets on the instance; every other attribute of the ORM's side
# is reached through one of them.
_ORM_ATTRIBUTES = frozenset({"sync_session", "_proxied", "_async_bind", "_async_binds"})


class OrmOnDemand(AsyncSession):
    def __init__(self, bind: Any = None, **options: Any) -> None:
        # Not ``AsyncSession.__init__`` yet: ``__getattr__`` calls it at the first need.
        self._orm_arguments: tuple[Any, dict[str, Any]] | None = (bind, options)

    def __getattr__(self, name: str) -> Any:
        # Python asks here only for what the instance lacks: before the ORM's side is made,
        # that is ``AsyncSession``'s own attributes.
        arguments = self.__dict__.get("_orm_arguments")
        if arguments is None or name not in _ORM_ATTRIBUTES:
            raise AttributeError(name)
        self._orm_arguments = None
        bind, options = arguments
        AsyncSession.__init__(self, bind, **options)
        self.orm_made()
        return getattr(self, name)

    def orm_made(self) -> None:
        """Called once the ORM's side exists, for a subclass to set it up."""

    @property
    def orm_used(self) -> bool:
        """Whether the ORM's side was made."""
        return self.__dict__.get("_orm_arguments") is None
