"""Files in and out: safe opening of untrusted files, the one importer and its adapters, normalising to the canonical schema, import reports, exports and provenance."""
