"""AWS Glue job: mask and encrypt the PII that Macie found in the raw DMS tables.

Reads every Macie finding Firehose delivered under the findings prefix, builds the masking
plan (``dcp.masking``), and writes for each raw table, to the curated bucket:

* ``masked/<table>/part-*.parquet``: flagged columns masked by the policy; tables without
  findings copied unchanged, so analysts see the whole schema;
* ``encrypted/<table>/part-*.parquet`` (flagged tables only): every flagged column encrypted
  with the table's data key (one KMS GenerateDataKey per table and run); the wrapped key and
  algorithm are in the Parquet footer and, when the tables exist, in the Glue table parameters.

Fail closed: unreadable findings stop the run before anything is written (exit 2); findings
are matched to tables by ``dcp.masking.findings.table_from_key``; a table no finding matches,
or whose reported types no column is located for, is scanned by dcp's own detector, and one
whose types even that cannot locate is not published (exit 1, the reason last on stderr).

DMS change files (first column ``Op``: I/U/D) are applied by primary key in file-name order
after the full load (``LOAD*.csv``), so the output is the table's current state. Each table's
output is split into key-hash buckets (one part each); a manifest per table
(``_dcp/manifests/<table>.json`` in the curated bucket) lists the raw files applied and the
parts holding the result. A run after a CDC round reads only the unapplied change files and
rewrites only the buckets their keys fall into, with the table's existing data key (unwrapped
with kms:Decrypt; without that permission the table is rebuilt with a new key). A changed plan,
policy, schema, token key or bucket count, a new full load, or ``--full_rebuild true`` rebuilds
a table from all its files. New parts are written first, the manifest next (the commit), old
parts deleted last; parts no manifest names (a crashed run's) are deleted by the next run.
See ``dcp.gluejob.incremental`` for the choice of layout and of a manifest over job bookmarks.

Arguments (``--name value``; Glue passes them as job arguments):

``--JOB_NAME``            the Glue job name (required).
``--raw_bucket``          bucket DMS writes to (required).
``--raw_prefix``          the DMS schema folder, e.g. ``dataset/`` (default: bucket root).
``--findings_bucket``     bucket Firehose writes findings to (required).
``--findings_prefix``     folder of the Firehose objects (default ``findings/``).
``--discovery_results``   ``s3://bucket/prefix/`` of Macie's detailed sensitive data discovery
                          results (its classification export configuration); read when a
                          finding's 15 listed occurrences do not account for its counts.
``--curated_bucket``      bucket of the masked and encrypted output (required).
``--data_key_id``         KMS key id, ARN or alias for the per-table data keys (required).
``--token_secret_id``     Secrets Manager id of the ``token`` action's key (SecretBinary, or
                          SecretString holding hex/base64 or JSON ``{"token_key": ...}``).
``--token_key``           the token key as hex instead (tests and the sandbox only).
``--tables``              comma list of tables (default: every table folder under the prefix).
``--masked_database``     Glue database of the masked tables (optional: record metadata).
``--encrypted_database``  Glue database of the encrypted tables (optional: record the wrapped key).
``--engine``              ``spark`` (default on Glue) or ``arrow`` (default elsewhere: one
                          process, pyarrow only; what the sandbox's Glue emulator runs).
``--policy``              the masking policy as JSON: ``{"actions": {TYPE: action},
                          "default_action": "redact", "partial_keep": 4, "joinable_types": [...]}``
                          (``dcp.gluejob.args.policy_to_json(settings.masking.to_policy())``).
``--batch_size``          rows per Arrow batch (default 10000).
``--primary_key``         the key change data is applied by (default ``id``; a table without
                          that column uses its first column).
``--full_rebuild``        ``true``: rebuild every table from all its raw files (default false).
``--buckets``             key-hash buckets (parts per table and kind) of a full rebuild
                          (default 32); a round rewrites the buckets its changed keys fall in.
``--output_crawlers``     comma list of the masked and encrypted zones' crawlers: the job runs
                          them (and waits) when a table was rebuilt or an output table is not
                          in the catalog yet; a round applied in place changes no schema
                          (``dcp.gluejob.crawl``). Needs glue:StartCrawler and glue:GetCrawler.

Runtime: Glue 5.0 (Spark 3.5.4, Python 3.11): the oldest Glue with Python 3.11, which dcp's
code needs, and the Spark line (3.5) the tests run on. Worker type G.1X (4 vCPU, 16 GB) with 2
workers: the work is per-batch Arrow transforms and AES per cell, bounded by batch size, so
more memory per worker buys nothing; scale the number of workers with the data instead.
``dcp.masking`` and ``dcp.gluejob`` reach the workers as one zip in ``--extra-py-files``
(``dcp.gluejob.package.build_glue_library``); this file is the job's script.

Elsewhere: ``python glue_jobs/mask_pii.py --JOB_NAME x ...`` (boto3 honours
``AWS_ENDPOINT_URL``), or ``spark-submit glue_jobs/mask_pii.py ... --engine spark``.
"""

from __future__ import annotations

import sys

from dcp.gluejob.runtime import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
