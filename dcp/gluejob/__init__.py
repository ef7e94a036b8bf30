"""The mask-PII job: read raw DMS tables and Macie findings, write masked and encrypted Parquet.

Shipped to AWS Glue together with :mod:`dcp.masking` (see :mod:`dcp.gluejob.package`), so it
imports nothing else of ``dcp``: no console, no config, no ``dcp.aws``. It logs with the
standard ``logging`` module, which Glue forwards to CloudWatch.

Two engines run the same steps and the same batch function (``dcp.masking.apply.mask_batch``):
``arrow`` (one process, pyarrow only; what the sandbox's Glue emulator runs) and ``spark``
(``mapInArrow`` on a SparkSession; what AWS Glue runs).
"""
