"""The Gremlin driver's websocket transport, made to obey the egress policy.

gremlinpython connects through aiohttp. This transport gives its session a resolver that
refuses names resolving to addresses the policy does not allow, and a request hook that
checks every URL it opens (a redirect, or a literal address aiohttp would not resolve).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from gremlin_python.driver.aiohttp.transport import AiohttpTransport

from fincrime.security.egress import EgressPolicy

_SCHEMES = ("ws", "wss", "http", "https")  # aiohttp opens a websocket with an http(s) request


class _CheckingResolver(AbstractResolver):
    def __init__(self, policy: EgressPolicy, what: str) -> None:
        self._policy, self._what = policy, what
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        self._policy.check_host(self._what, host)
        results = await self._inner.resolve(host, port, family)
        if not self._policy.allows_name(host):
            for result in results:
                self._policy.check_address(self._what, host, ipaddress.ip_address(result["host"]))
        return results

    async def close(self) -> None:
        await self._inner.close()


class CheckedTransport(AiohttpTransport):
    """``AiohttpTransport`` whose every connection obeys ``policy``."""

    def __init__(self, policy: EgressPolicy, what: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._policy, self._what = policy, what

    def connect(self, url: str, headers: Any = None) -> None:
        policy, what = self._policy, self._what

        async def check(session: Any, context: Any, params: Any) -> None:
            policy.check_url(str(params.url), what, schemes=_SCHEMES)

        async def async_connect() -> None:
            trace = aiohttp.TraceConfig()
            trace.on_request_start.append(check)
            trace.on_request_redirect.append(check)
            connector = aiohttp.TCPConnector(resolver=_CheckingResolver(policy, what))
            self._client_session = aiohttp.ClientSession(connector=connector, trace_configs=[trace])
            try:
                self._websocket = await self._client_session.ws_connect(url, **self._aiohttp_kwargs, headers=headers)
            except aiohttp.ClientResponseError as err:
                if err.status == 403:  # the driver's own wording: the full message may carry credentials
                    raise Exception("Failed to connect to server: HTTP Error code 403 - Forbidden.") from None
                raise

        self._loop.run_until_complete(async_connect())
