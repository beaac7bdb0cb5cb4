"""Which outbound connections fincrime may make: the egress policy.

A URL from an untrusted place (a job spec's webhook, SMTP host, SPARQL or Gremlin target) may
only reach public addresses. Loopback, private, link-local, multicast, reserved and other
non-global addresses are refused unless the operator allows them (``egress.allow`` in
``FINCRIME_HOME/security.json`` or ``FINCRIME_EGRESS_ALLOW``; see :mod:`fincrime.security.config`).

The policy is applied twice:

1. :meth:`EgressPolicy.check_url` looks at the URL alone, without any network access (what spec
   validation uses, so validating a spec never sends anything, not even a DNS query): literal
   addresses in every spelling the C library accepts (``2130706433``, ``0177.0.0.1``,
   ``0x7f.1``, ``[::ffff:127.0.0.1]``) and the loopback names (``localhost``, ``*.localhost``);
2. :meth:`EgressPolicy.create_connection` resolves the name, refuses the connection when *any*
   address it resolves to is not allowed, and connects to the very address it checked, so a
   DNS answer that changes between check and use (rebinding) gains nothing. The urllib opener
   (:meth:`EgressPolicy.opener`), the SMTP clients (:func:`smtp_client`) and the Gremlin
   transport all connect through it, so a redirect is checked like the first request.

Addresses inside IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64 ``64:ff9b::/96``)
are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import re
import smtplib
import socket
import ssl
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fincrime.errors import InputError
from fincrime.security.config import CONFIG_NAME, ENV_EGRESS_ALLOW, load_config

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_INET_ATON = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.I)
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
HOW_TO_ALLOW = f"allow it in FINCRIME_HOME/{CONFIG_NAME} (egress.allow) or {ENV_EGRESS_ALLOW}"


class EgressRefused(InputError):
    """An outbound connection the policy does not allow (raised before anything is sent)."""


def literal_address(host: str) -> IPAddress | None:
    """The address a host string denotes by itself, in any spelling the resolver accepts.

    >>> str(literal_address("2130706433")), str(literal_address("0177.0.0.1")), str(literal_address("[::1]"))
    ('127.0.0.1', '127.0.0.1', '::1')
    >>> literal_address("example.org") is None
    True
    """
    text = host.strip().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # an IPv6 zone id (fe80::1%eth0) names an interface, not an address
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _INET_ATON.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64), if any.

    >>> str(embedded_ipv4(ipaddress.ip_address("::ffff:127.0.0.1")))
    '127.0.0.1'
    """
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_not_public(ip: IPAddress) -> str | None:
    """Why an address is not a public unicast address, or None when it is.

    >>> why_not_public(ipaddress.ip_address("169.254.169.254"))
    'a link-local address'
    >>> why_not_public(ipaddress.ip_address("93.184.215.14")) is None
    True
    """
    inner = embedded_ipv4(ip)
    if inner is not None:
        why = why_not_public(inner)
        return f"{why} (inside {ip})" if why else None
    for test, why in (
        ("is_unspecified", "the unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, test):
            return why
    if not ip.is_global:
        return "not a public address"
    return None


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, IDNA-encoded; raises :class:`EgressRefused` when malformed."""
    text = host.strip().lower().rstrip(".")
    if literal_address(text) is not None:
        return text
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        raise EgressRefused(f"{host!r} is not a valid host name") from None
    if not _HOST_NAME.match(text):
        raise EgressRefused(f"{host!r} is not a valid host name")
    return text


@dataclass(frozen=True)
class EgressPolicy:
    """Hosts and networks that may be reached although not public (``allow_all``: anything).

    >>> policy = EgressPolicy.from_entries(["10.1.0.0/16", "db.internal"])
    >>> policy.allows_address(ipaddress.ip_address("10.1.2.3")), policy.allows_address(ipaddress.ip_address("10.2.0.1"))
    (True, False)
    """

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    allow_all: bool = False
    source: str = field(default="defaults", compare=False)

    @classmethod
    def from_entries(cls, entries: Iterable[str], source: str = "defaults") -> EgressPolicy:
        networks: list[IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        allow_all = False
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if entry == "*":
                allow_all = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            address = literal_address(entry)
            if address is not None:
                networks.append(ipaddress.ip_network(address))
            elif entry.startswith(("*.", ".")):
                suffixes.append("." + normalize_host(entry.lstrip("*.")))
            else:
                names.add(normalize_host(entry))
        return cls(tuple(networks), frozenset(names), tuple(suffixes), allow_all, source)

    # ---- decisions ------------------------------------------------------------------------
    def allows_name(self, host: str) -> bool:
        """True when the operator allowed this host name itself (whatever it resolves to)."""
        if self.allow_all:
            return True
        name = host.strip().lower().rstrip(".")
        return name in self.names or any(name.endswith(s) for s in self.suffixes)

    def allows_address(self, ip: IPAddress) -> bool:
        if self.allow_all or why_not_public(ip) is None:
            return True
        candidates = [ip] + ([inner] if (inner := embedded_ipv4(ip)) is not None else [])
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)

    def _refuse(self, what: str, host: str, ip: IPAddress | None, why: str) -> EgressRefused:
        target = f"{host} ({ip})" if ip is not None and str(ip) != host.strip("[]") else host
        return EgressRefused(f"{what}: {target} is {why}; refused by the egress policy", hint=HOW_TO_ALLOW)

    def check_address(self, what: str, host: str, ip: IPAddress) -> None:
        if not self.allows_address(ip):
            raise self._refuse(what, host, ip, why_not_public(ip) or "not allowed")

    def check_host(self, what: str, host: str) -> None:
        """The static check of a host (no DNS): literal addresses and loopback names."""
        if not host:
            raise EgressRefused(f"{what}: no host")
        name = normalize_host(host)
        if self.allows_name(name):
            return
        address = literal_address(name)
        if address is not None:
            self.check_address(what, host, address)
        elif name in LOOPBACK_NAMES or name.endswith(".localhost"):
            self.check_address(what, host, ipaddress.ip_address("127.0.0.1"))

    def check_url(self, url: str, what: str, *, schemes: Iterable[str] = ("http", "https")) -> None:
        """Refuses a URL whose scheme is not one of ``schemes`` or whose host is not allowed.

        Makes no network access: names are resolved (and checked again) only when connecting.
        """
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - a malformed port raises here
        except ValueError as exc:
            raise EgressRefused(f"{what}: {url!r} is not a valid URL ({exc})") from None
        allowed = tuple(schemes)
        if parts.scheme.lower() not in allowed:
            raise EgressRefused(f"{what}: {url!r}: only {', '.join(allowed)} URLs are allowed")
        if "\\" in parts.netloc or any(ord(c) < 0x21 for c in parts.netloc):
            raise EgressRefused(f"{what}: {url!r} has characters that are not allowed in a host")
        self.check_host(what, host)

    def allowing(self, *urls_or_hosts: str) -> EgressPolicy:
        """This policy plus the hosts of URLs the operator typed (a CLI ``--endpoint``)."""
        hosts = []
        for item in urls_or_hosts:
            host = urllib.parse.urlsplit(item).hostname if "://" in item else item
            if host:
                hosts.append(host)
        extra = EgressPolicy.from_entries(hosts)
        networks = self.networks + extra.networks
        return EgressPolicy(networks, self.names | extra.names, self.suffixes + extra.suffixes,
                            self.allow_all, self.source)

    # ---- enforcement ----------------------------------------------------------------------
    def resolve(self, host: str, port: int, what: str) -> list[tuple[Any, ...]]:
        """``getaddrinfo`` results for a TCP connection, every one of them allowed."""
        self.check_host(what, host)
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"{what}: cannot resolve {host}: {exc.strerror}") from None
        if not self.allows_name(host):
            for info in infos:
                self.check_address(what, host, ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        return infos

    def create_connection(self, address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                          source_address: tuple[str, int] | None = None, *, what: str = "connection") -> socket.socket:
        """``socket.create_connection`` that connects only to addresses it has checked."""
        host, port = address
        last: OSError | None = None
        for family, kind, proto, _, sockaddr in self.resolve(host, port, what):
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                last = exc
                sock.close()
        raise last or OSError(f"{what}: no address for {host}")

    def opener(self, *handlers: urllib.request.BaseHandler, what: str = "request",
               redirects: bool = True) -> urllib.request.OpenerDirector:
        """A urllib opener whose every connection (redirects included) obeys this policy."""
        chain: list[urllib.request.BaseHandler] = [
            _GuardedHTTPHandler(self, what),
            _GuardedHTTPSHandler(self, what),
            _CheckedRedirects(self, what) if redirects else _NoRedirects(),
            *handlers,
        ]
        return urllib.request.build_opener(*chain)


def egress_policy(home: Any = None, *, env: Mapping[str, str] | None = None) -> EgressPolicy:
    """The policy configured for ``home`` (default ``FINCRIME_HOME``) and the environment."""
    config = load_config(home, env=env)
    source = str(config.source) if config.source else "defaults"
    return EgressPolicy.from_entries(config.egress_allow, source=source)


# ---- urllib -------------------------------------------------------------------------------
class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, policy: EgressPolicy, what: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(policy.create_connection, what=what)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, policy: EgressPolicy, what: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(policy.create_connection, what=what)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: EgressPolicy, what: str) -> None:
        super().__init__()
        self._connection = functools.partial(_GuardedHTTPConnection, policy=policy, what=what)

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._connection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: EgressPolicy, what: str) -> None:
        super().__init__()
        self._connection = functools.partial(_GuardedHTTPSConnection, policy=policy, what=what)

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._connection, req, context=self._context)  # type: ignore[attr-defined]


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to URLs the policy allows (and only to http/https)."""

    def __init__(self, policy: EgressPolicy, what: str) -> None:
        super().__init__()
        self._policy, self._what = policy, what

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        target = urllib.parse.urljoin(req.full_url, newurl)
        self._policy.check_url(target, f"{self._what} (redirected by {req.full_url})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# ---- SMTP ---------------------------------------------------------------------------------
class _GuardedSMTPBase(smtplib.SMTP):
    egress: EgressPolicy
    egress_what: str

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self.egress.create_connection((host, port), timeout, self.source_address, what=self.egress_what)


class _GuardedSMTP(_GuardedSMTPBase):
    pass


class _GuardedSMTPSSL(smtplib.SMTP_SSL, _GuardedSMTPBase):
    pass


def smtp_client(policy: EgressPolicy, host: str, port: int, *, implicit_tls: bool, timeout: float,
                context: ssl.SSLContext, what: str = "SMTP") -> smtplib.SMTP:
    """A connected SMTP client (implicit TLS or plain) whose connection obeys the policy."""
    policy.check_host(what, host)
    client: smtplib.SMTP = _GuardedSMTPSSL(timeout=timeout, context=context) if implicit_tls else _GuardedSMTP(timeout=timeout)
    client.egress, client.egress_what = policy, what  # type: ignore[attr-defined]
    client._host = host  # type: ignore[attr-defined] - the TLS server name (set by __init__ only when it connects)
    client.connect(host, port)
    return client
