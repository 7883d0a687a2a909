"""Ingest: files → Documents with titles, 文号, dates and numbered sections."""
