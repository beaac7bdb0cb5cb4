"""Stored frames: how a Spark run cuts the lineage of the facts it derives, round after round.

Every committed round is checkpointed, so a view of a relation is a union of a few stored scans
whatever the number of rounds. Two things matter beyond that:

* **Statistics.** A checkpointed frame keeps the size estimate of the plan that computed it, and
  Spark's size-only estimate of a join is the *product* of its inputs' sizes. A round's facts
  come from a join of a dozen earlier frames, so the estimate's digits multiply every round: by
  round 7 of the 10k-transaction sample the driver spent minutes (and at last its heap) on
  multiplying ``BigInt``s of millions of digits. A stored frame therefore starts afresh, as a
  scan with Spark's default estimate, so the planner's arithmetic stays bounded (the executor
  chooses broadcasts from its own row counts; adaptive execution sees the real sizes).
* **Where the data lives.** Locally, checkpoints are the block manager's (memory, spilling to
  disk); on a cluster a ``checkpoint_dir`` on shared storage makes them survive a lost executor.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession


class Checkpointer:
    """``checkpointer(frame, eager=True)``: the frame stored, with fresh statistics."""

    def __init__(self, spark: SparkSession, reliable: bool) -> None:
        self.spark = spark
        self.reliable = reliable
        self.stored = 0

    def __call__(self, frame: DataFrame, eager: bool = True) -> DataFrame:
        # A lazy local checkpoint is stored by the first job that reads it, saving a job per
        # round; a reliable one would be computed twice that way, so it is always eager.
        stored = frame.checkpoint(eager=True) if self.reliable else frame.localCheckpoint(eager=eager)
        self.stored += 1
        return fresh_statistics(self.spark, stored)


def fresh_statistics(spark: SparkSession, frame: DataFrame) -> DataFrame:
    """The same rows as a plain scan of the frame's RDD (no inherited size estimate)."""
    jdf = frame._jdf
    rows = jdf.queryExecution().toRdd()
    return DataFrame(spark._jsparkSession.internalCreateDataFrame(rows, jdf.schema(), False), spark)


__all__ = ["Checkpointer", "fresh_statistics"]
