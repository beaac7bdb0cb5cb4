"""Synthetic financial transactions with injected laundering typologies and ground truth.

Output (in ``out``): ``parties-<i>`` and ``transactions-<i>`` files (``.nt``, ``.nt.gz`` or
``.parquet``) in the reference generator's vocabulary, ``ground-truth.nt`` and
``ground-truth.csv`` (one node / rows per injected laundering attempt) and
``generation.json`` (the resolved settings, seed included, and the counts). Same seed and
settings give the same bytes whatever ``files`` or the internal chunk size: the files of a
run concatenate to the single-file output.

Python API (what ``fincrime generate`` and ``fincrime demo`` call)::

    from fincrime.generator import GeneratorConfig, generate

    report = generate(GeneratorConfig(out="input/demo", transactions=10_000, seed=7,
                                      end_date="2024-06-30", typologies="layering=5,cycle=3"))
    report.transactions, report.attempts, [f.path.name for f in report.files]

``generate(config, progress=fn)`` calls ``fn(phase, done, total)`` as chunks are produced.
Bad settings raise :class:`fincrime.errors.InputError` naming the CLI option; nothing is left
under a final file name unless the whole run succeeded.

Modules: ``config`` (settings and validation), ``typologies`` (attempt shapes and plan),
``parties`` / ``transactions`` (what is drawn), ``randomness`` (chunk-independent seeding),
``textcodec`` / ``records`` (vectorized N-Triples), ``tables`` (Parquet), ``groundtruth``,
``sinks`` (files, partial names, background writer) and ``run`` (the orchestration).
"""

from fincrime.generator.config import FORMATS, PROFILES, GeneratorConfig, ResolvedConfig
from fincrime.generator.run import FileReport, GenerationReport, generate
from fincrime.generator.typologies import KINDS, TYPOLOGY_NAMES

__all__ = [
    "FORMATS",
    "KINDS",
    "PROFILES",
    "TYPOLOGY_NAMES",
    "FileReport",
    "GenerationReport",
    "GeneratorConfig",
    "ResolvedConfig",
    "generate",
]
