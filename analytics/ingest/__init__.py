"""From a clinic's export to the canonical tables: reading, the identifier guard, column and value
mapping, REDCap and wide-sheet conversion, form scoring, schema checks and the importer."""
