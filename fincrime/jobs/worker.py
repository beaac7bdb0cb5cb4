"""One job in its own process, started by the watcher: ``python -m fincrime.jobs.worker``.

The watcher claims the job, then this process adopts the claim under its own lease, so the
lease always names the process doing the work (what restart recovery checks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fincrime.jobs import registry as R
from fincrime.jobs.runner import run_job
from fincrime.workspace import Workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fincrime.jobs.worker", description=__doc__)
    parser.add_argument("job_id")
    parser.add_argument("--claim", required=True, help="lease token the watcher claimed the job with")
    parser.add_argument("--home", required=True, help="FINCRIME_HOME (registry and stores)")
    parser.add_argument("--output", required=True, help="output root")
    args = parser.parse_args(argv)
    workspace = Workspace(home=Path(args.home), output_root=Path(args.output))
    with R.Registry(workspace.registry_path) as registry:
        lease = R.Lease.mine()
        try:
            registry.adopt(args.job_id, args.claim, lease)
            record = run_job(registry, args.job_id, lease, workspace=workspace)
        except R.LeaseLost as exc:
            print(f"worker: {exc}", file=sys.stderr)
            return 3
    print(f"worker: job {record.id} {record.status}" + (f": {record.error}" if record.error else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
