"""dcp's masking engine: Macie-style detection, masking plans, transforms, envelope encryption.

Pure: imports nothing of dcp outside this package and never boto3 (KMS is passed in as any
object with boto3's ``generate_data_key``/``decrypt`` methods). The synthetic sample tables
(Faker) are ``dcp.masking.sample_data``, which only the code that generates data imports.
"""

from dcp.masking.apply import MaskedBatch, MaskTableResult, mask_batch, mask_table, reveal_table
from dcp.masking.crypto import CellDecryptionError, KmsAccessDenied, KmsLike, TableCrypto
from dcp.masking.detect import classify_source
from dcp.masking.findings import Cell, Detection, Finding, FindingParse, Record
from dcp.masking.identifiers import (
    DEFAULT_CUSTOM_IDENTIFIERS,
    MANAGED_IDENTIFIERS,
    Category,
    CustomIdentifier,
    ManagedIdentifier,
    managed_identifier,
)
from dcp.masking.plan import ColumnRule, MaskingPlan, TablePlan
from dcp.masking.policy import Action, MaskingPolicy

__all__ = [
    "DEFAULT_CUSTOM_IDENTIFIERS",
    "MANAGED_IDENTIFIERS",
    "Action",
    "Category",
    "Cell",
    "CellDecryptionError",
    "ColumnRule",
    "CustomIdentifier",
    "Detection",
    "Finding",
    "FindingParse",
    "KmsAccessDenied",
    "KmsLike",
    "ManagedIdentifier",
    "MaskTableResult",
    "MaskedBatch",
    "MaskingPlan",
    "MaskingPolicy",
    "Record",
    "TableCrypto",
    "TablePlan",
    "classify_source",
    "managed_identifier",
    "mask_batch",
    "mask_table",
    "reveal_table",
]
