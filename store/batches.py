"""Former home of the batch functions, now split by concern (imports, conflicts, rollback,
history, clinic, sample): re-exports the names still imported from here until their importers
take them from :mod:`store` or the new modules."""

from store.history import batch_details, list_batches
from store.sample import ensure_sample

__all__ = ["batch_details", "ensure_sample", "list_batches"]
