"""Storage behind a Protocol: the DynamoDB store, and an in-memory one with the same contract."""

from ff_core.store.dynamodb import DynamoStore
from ff_core.store.memory import MemoryStore
from ff_core.store.protocol import Committed, Entity, Page, ProjectState, Store, Write

__all__ = [
    "Committed",
    "DynamoStore",
    "Entity",
    "MemoryStore",
    "Page",
    "ProjectState",
    "Store",
    "Write",
]
