"""Evidence: log sources, template mining, incident-vs-baseline comparison, redaction, the digest."""
