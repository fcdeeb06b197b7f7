"""moto's server finds each request's service afresh: it lists moto's package folder (a `stat` per entry) and
tries every service's URL patterns, twice a request. That was a fifth of the emulator's time per AWS call.
A host always maps to the same service, so the answer is remembered per host.
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_found: dict[str | None, Any] = {}
_lookup = DomainDispatcherApplication.get_backend_for_host


def _remembered(self: DomainDispatcherApplication, host: str | None) -> Any:
    if host not in _found:
        _found[host] = _lookup(self, host)
    return _found[host]


def apply() -> None:
    DomainDispatcherApplication.get_backend_for_host = _remembered  # type: ignore[method-assign]
