"""Work moto's server repeats on every request although the answer never changes, done once instead.

- The service of a request: moto lists its package folder (a `stat` per entry) and tries every service's URL
  patterns, twice a request. That was a fifth of the emulator's time per AWS call. A host always maps to the
  same service, so the answer is remembered per host.
- The actions a service's response class has: `BaseResponse.call_action` lists the class's functions with
  `inspect.getmembers` (a `dir()` and a check per attribute) on every request, about a tenth of the emulator's
  CPU per GetItem or ReceiveMessage. A class's functions do not change while the server runs: listed once per
  class.
- The request id: 52 characters drawn one `random.choice` at a time; `secrets.token_hex(26)` gives 52 at once.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

import moto.core.responses
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_found: dict[str | None, Any] = {}
_lookup = DomainDispatcherApplication.get_backend_for_host


def _remembered(self: DomainDispatcherApplication, host: str | None) -> Any:
    if host not in _found:
        _found[host] = _lookup(self, host)
    return _found[host]


def _request_id(headerdict: dict[str, Any] | None = None) -> str:
    """moto's gen_amzn_requestid_long: 52 characters, also set as the x-amzn-requestid header when given one."""
    request_id = secrets.token_hex(26)
    if isinstance(headerdict, dict):
        headerdict["x-amzn-requestid"] = request_id
    return request_id


def apply() -> None:
    DomainDispatcherApplication.get_backend_for_host = _remembered  # type: ignore[method-assign]
    responses = vars(moto.core.responses)  # the names call_action and _enrich_response look up when they run
    if not hasattr(responses["method_names_from_class"], "cache_info"):  # once, whichever emulator starts first
        responses["method_names_from_class"] = functools.cache(responses["method_names_from_class"])
    responses["gen_amzn_requestid_long"] = _request_id
