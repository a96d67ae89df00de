"""An OpenFeature provider over a FlagClient.

    client = await FlagClient.connect(url=..., server_key=...)
    api.set_provider(FlagProvider(client))
    value = await api.get_client().get_boolean_value_async("new-checkout", False, context)

Resolution is the client's local evaluation, so the sync and async resolve methods share
one code path. The client's status changes become PROVIDER_READY / PROVIDER_STALE /
PROVIDER_ERROR and its definition changes PROVIDER_CONFIGURATION_CHANGED with
``flags_changed``. Whoever connected the client closes it; the provider only listens.
A client that is STALE when the provider is set is reported READY by the SDK (it emits
READY once ``initialize`` returns) until its next status change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode as OpenFeatureErrorCode
from openfeature.exception import ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.provider import AbstractProvider, Metadata

from ff_core.client.client import FlagClient
from ff_core.client.details import (
    Status,
    as_bool,
    as_float,
    as_int,
    as_object,
    as_str,
    from_attributes,
)

T = TypeVar("T")
Structure = Sequence[FlagValueType] | Mapping[str, FlagValueType]


class FlagProvider(AbstractProvider):
    def __init__(self, client: FlagClient, name: str = "ff") -> None:
        super().__init__()
        self.client = client
        self._name = name
        self._unsubscribe: list[Callable[[], None]] = []

    def get_metadata(self) -> Metadata:
        return Metadata(name=self._name)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        self._unsubscribe = [
            self.client.on_change(self._changed),
            self.client.on_status(self._status),
        ]
        if self.client.status is Status.ERROR:
            raise ProviderNotReadyError(self.client.status_message or "the client has no flags")

    def shutdown(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _changed(self, keys: list[str]) -> None:
        self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=keys))

    def _status(self, status: Status, message: str | None) -> None:
        if status is Status.READY:
            self.emit_provider_ready(ProviderEventDetails())
        elif status is Status.STALE:
            self.emit_provider_stale(ProviderEventDetails(message=message))
        else:
            details = ProviderEventDetails(message=message, error_code=OpenFeatureErrorCode.GENERAL)
            self.emit_provider_error(details)

    # -- resolution -----------------------------------------------------------------------------

    def _resolve(
        self,
        key: str,
        default: Any,
        context: EvaluationContext | None,
        kind: Callable[[Any], Any],
    ) -> FlagResolutionDetails[Any]:
        ctx = (
            None if context is None else from_attributes(context.targeting_key, context.attributes)
        )
        details = self.client._details(key, ctx, default, kind)
        return FlagResolutionDetails(
            value=details.value,
            error_code=(
                None
                if details.error_code is None
                else OpenFeatureErrorCode(details.error_code.value)
            ),
            error_message=details.error_message,
            reason=details.reason.value,
            variant=details.variant,
            flag_metadata={"version": details.version},
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, as_bool)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, as_str)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, as_int)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, as_float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Structure,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Structure]:
        return self._resolve(flag_key, default_value, evaluation_context, as_object)
