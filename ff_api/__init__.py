"""ff's evaluation and management API (Starlette)."""

from ff_api.app import create_app
from ff_api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
