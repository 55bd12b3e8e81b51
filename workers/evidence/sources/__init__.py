"""Log backends, one module each, all answering the `LogSource` protocol of `workers.evidence.model`."""
