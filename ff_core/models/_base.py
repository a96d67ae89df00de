from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Frozen, unknown fields refused: every ff model."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    def replace(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` applied (``model_copy`` would skip validation)."""
        data = self.model_dump()
        data.update(changes)
        return self.model_validate(data)
