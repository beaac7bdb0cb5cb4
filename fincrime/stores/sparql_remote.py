"""Loading a job into a SPARQL 1.1 server: Graph Store HTTP Protocol, SPARQL Update fallback.

Per graph: the graph is dropped, then sent in batches of at most ``batch_triples`` triples
(``POST`` to the graph store, or ``INSERT DATA`` when the server has no graph store or refuses
it), then counted with a query: the count must equal the file's distinct triples. Dropping
first is what makes a re-run replace the graph instead of adding to it.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from fincrime.errors import FincrimeError
from fincrime.security.egress import EgressPolicy
from fincrime.stores.httpclient import HttpClient, HttpStatusError, Retry
from fincrime.stores.jobfiles import JobFiles
from fincrime.stores.ntriples import Batches

# Graph-store answers meaning "not supported here": switch to SPARQL Update for the rest.
_GSP_UNSUPPORTED = frozenset({404, 405, 406, 415, 501})
RESULTS_JSON = "application/sparql-results+json"


class SparqlServer:
    """One SPARQL 1.1 server as a load target (a ``{"type": "sparql", ...}`` dict)."""

    def __init__(self, target: dict[str, Any], *, client: HttpClient | None = None,
                 egress: EgressPolicy | None = None) -> None:
        self.endpoint: str = target["endpoint"]
        self.update_endpoint: str = target.get("update") or self.endpoint
        self.graph_store: str | None = target.get("graph_store")
        self.batch_triples = int(target.get("batch_triples", 50_000))
        self.client = client or HttpClient(auth=target.get("auth"), retry=Retry.from_target(target), egress=egress)

    # ------------------------------------------------------------------ protocol
    def _gsp_url(self, graph: str) -> str:
        assert self.graph_store is not None
        sep = "&" if "?" in self.graph_store else "?"
        return f"{self.graph_store}{sep}graph={urllib.parse.quote(graph, safe='')}"

    def update(self, text: str) -> None:
        body = urllib.parse.urlencode({"update": text}).encode()
        self.client.request(
            "POST",
            self.update_endpoint,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": RESULTS_JSON},
        )

    def select(self, text: str) -> dict[str, Any]:
        """Runs a SELECT/ASK and returns the parsed SPARQL JSON results."""
        body = urllib.parse.urlencode({"query": text}).encode()
        _, ctype, data = self.client.request(
            "POST",
            self.endpoint,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": RESULTS_JSON},
        )
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise FincrimeError(f"{self.endpoint}: expected SPARQL JSON results, got {ctype or 'no content type'}") from None

    def count(self, graph: str) -> int:
        result = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(result["results"]["bindings"][0]["n"]["value"])

    def drop(self, graph: str) -> None:
        if self.graph_store:
            try:
                self.client.request("DELETE", self._gsp_url(graph))
                return
            except HttpStatusError as exc:
                if exc.status == 404:  # no such graph yet: nothing to drop
                    return
                if exc.status not in _GSP_UNSUPPORTED:
                    raise
        self.update(f"DROP SILENT GRAPH <{graph}>")

    def _post(self, graph: str, chunk: str, use_gsp: bool) -> bool:
        """Sends one batch; returns whether the graph store is (still) used."""
        if use_gsp:
            try:
                # N-Triples is Turtle: text/turtle is the one type every graph store accepts.
                self.client.request(
                    "POST",
                    self._gsp_url(graph),
                    body=chunk.encode("utf-8"),
                    headers={"Content-Type": "text/turtle; charset=utf-8"},
                )
                return True
            except HttpStatusError as exc:
                if exc.status not in _GSP_UNSUPPORTED:
                    raise
        self.update(f"INSERT DATA {{ GRAPH <{graph}> {{\n{chunk}}} }}")
        return False

    # --------------------------------------------------------------------- loads
    def load_graph(
        self, path: Any, graph: str, *, progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """Replaces ``graph`` on the server with the triples of ``path``, then checks the count."""
        start = time.perf_counter()
        self.drop(graph)
        batches = Batches(path, graph, self.batch_triples)
        use_gsp = self.graph_store is not None
        sent = 0
        for chunk in batches:
            use_gsp = self._post(graph, chunk, use_gsp)
            sent += 1
            if progress:
                progress(chunk.count("\n"))
        found = self.count(graph)
        if found != batches.distinct:
            raise FincrimeError(
                f"{self.endpoint}: graph <{graph}> holds {found} triples after the load, "
                f"expected {batches.distinct} (from {path})"
            )
        return {
            "graph": graph,
            "triples": found,
            "batches": sent,
            "protocol": "graph-store" if use_gsp else "update",
            "seconds": round(time.perf_counter() - start, 3),
        }

    def load_job(self, job: JobFiles, *, with_inputs: bool = True,
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        graphs = [(inp.path, inp.graph) for inp in job.inputs] if with_inputs else []
        graphs.append((job.derived, job.graph))
        loaded = [self.load_graph(path, graph, progress=progress) for path, graph in graphs]
        return {
            "type": "sparql",
            "endpoint": self.endpoint,
            "graph": job.graph,
            "derived_triples": loaded[-1]["triples"],
            "graphs": loaded,
        }
