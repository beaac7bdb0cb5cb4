"""Draw a job's pictures: one page per chain (top N by bottleneck, or chosen chains) + overview."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from fincrime.errors import InputError
from fincrime.jobfolder import VIZ
from fincrime.viz.chain_page import PAGE_FORMATS, render_chain
from fincrime.viz.loader import load_job
from fincrime.viz.overview import OVERVIEW_CAP, render_overview

#: Chains drawn when no ``top`` is given (the ones with the largest bottleneck); the report lists
#: every chain, and ``fincrime viz --chain IRI`` draws any other one.
DEFAULT_TOP = 50


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(f.lower() for f in formats))
    bad = [f for f in out if f not in PAGE_FORMATS]
    if bad or not out:
        raise InputError(f"unknown picture format {', '.join(bad) or '(none)'}; choose from {', '.join(PAGE_FORMATS)}")
    return out


def render_job(
    job_dir: str | Path,
    formats: Sequence[str] = ("html", "svg"),
    top: int | None = None,
    *,
    chains: Sequence[str] | None = None,
    overview: bool = True,
    overview_cap: int = OVERVIEW_CAP,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write pictures into ``job_dir/viz/`` and return the files written.

    ``top`` chains with the largest bottleneck are drawn (default :data:`DEFAULT_TOP`), or
    exactly the ``chains`` given by IRI. ``formats`` picks among ``html`` (interactive page),
    ``svg`` and ``png``. The overview graph and timeline are redrawn unless ``overview`` is
    false; it keeps at most ``overview_cap`` parties. ``progress(done, total)`` is called after each chain.

    >>> render_job("output/demo/demo_20250101_001", formats=("html", "svg", "png"), top=5)  # doctest: +SKIP
    """
    fmts = _check_formats(formats)
    if top is not None and top < 0:
        raise InputError(f"--top must be 0 or more, not {top}")
    if overview_cap < 1:
        raise InputError(f"--overview-cap must be 1 or more, not {overview_cap}")
    job = load_job(job_dir)
    if chains:
        picked = []
        for iri in chains:
            c = job.chain_by_iri(iri.strip("<>"))
            if c is None:
                raise InputError(f"no reported chain {iri!r} in job {job.job_id}", hint="see chains.csv for the chain IRIs")
            picked.append(c)
    else:
        picked = job.chains[: DEFAULT_TOP if top is None else top]
    viz_dir = job.job_dir / VIZ
    written: list[Path] = []
    for i, c in enumerate(picked):
        written += render_chain(job, c, viz_dir, fmts)
        if progress:
            progress(i + 1, len(picked))
    if overview:
        drawn = {p.stem for p in (viz_dir / "chains").glob("*.html")}
        written += render_overview(job, viz_dir, drawn, cap=overview_cap)
    return written
