"""What untrusted input may make fincrime do: the operator's security settings and their checks.

- :mod:`fincrime.security.config`: the operator's settings (``FINCRIME_HOME/security.json``
  plus environment variables); nothing in a job spec can change them;
- :mod:`fincrime.security.egress`: which outbound connections are allowed (no loopback,
  private, link-local or multicast address unless the operator allows it), enforced both on
  the URL and on every address a connection is actually made to;
- :mod:`fincrime.security.sparql`: untrusted SPARQL screened before any native parser sees
  it (size and nesting limits, ``SERVICE`` refused unless allow-listed);
- :mod:`fincrime.security.sandbox`: parsing untrusted SPARQL in a child process that cannot
  open a file or a socket, so a parser crash or a forgotten clause stops nothing and calls
  nobody.
"""

from fincrime.security.config import SecurityConfig, load_config
from fincrime.security.egress import EgressPolicy, EgressRefused, egress_policy
from fincrime.security.sparql import QueryLimits, QueryRefused, screen_query

__all__ = [
    "EgressPolicy",
    "EgressRefused",
    "QueryLimits",
    "QueryRefused",
    "SecurityConfig",
    "egress_policy",
    "load_config",
    "screen_query",
]
