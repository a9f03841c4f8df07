"""Synthetic QĐ 130 submissions: a seeded generator of realistic claims with labelled faults.

``generate`` writes a run (XML wrappers or bulk Parquet tables) and its truth file in
bounded memory; ``generate_day`` returns the tables and truth in memory, and
``write_xml`` / ``write_parquet`` write them. The modules, by what they do: ``items``
(item lists, price list, ICD-10 pool), ``people`` (facilities and persons), ``plan``
(visits, doctors, routes), ``clinical`` (diagnoses, line counts), ``run`` (the plan of a
run, which claims get faults), ``anomalies`` (which claims get anomalies: valid alone,
far off in aggregate, with ``category`` ``anomaly`` in the truth), ``lines`` (detail
lines, results, notes), ``money`` (amounts), ``tables`` (XML1–XML5 text), ``faults``
(applying faults, truth rows), ``write`` (XML and Parquet output), ``generate`` (the
entry points) and ``seed`` (``python -m claims.synthetic.seed`` rewrites the built-in
synthetic catalogs).
"""

from claims.synthetic.anomalies import KINDS as ANOMALY_KINDS
from claims.synthetic.generate import (
    GenerateSummary,
    SyntheticDay,
    generate,
    generate_day,
    write_parquet,
    write_xml,
)

__all__ = [
    "ANOMALY_KINDS",
    "GenerateSummary",
    "SyntheticDay",
    "generate",
    "generate_day",
    "write_parquet",
    "write_xml",
]
