"""S3 behaviour moto lacks: object notifications invoke Lambda in-process (no Docker), and
bucket policies are evaluated with AWS's semantics (see :mod:`.bucket_policy`)."""

from dcp.sandbox.emulators.s3_notifications import bucket_policy, models

models.install()
bucket_policy.install()
