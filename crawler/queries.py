"""Query commands over the archive: search, facts, show, sql, export, browse."""
