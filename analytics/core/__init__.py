"""The vocabulary every layer shares: the canonical tables, problems, instruments, definitions,
interval statistics and the patient-id kernel."""
