"""Importers of public AML benchmark data into the reference vocabulary plus ground truth.

``fincrime import amlworld FILE.csv [--patterns FILE.txt]`` (IBM AMLworld) and ``fincrime import
amlsim DIR`` (IBM AMLSim); both write the generator's file layout (see :mod:`.common`), so the
same jobs, rules and ``fincrime score`` run on them.
"""

from fincrime.importers.amlsim import import_amlsim
from fincrime.importers.amlworld import import_amlworld

__all__ = ["import_amlsim", "import_amlworld"]
