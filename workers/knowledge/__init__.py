"""Knowledge: past incidents as records, their ingest and storage, and search over them."""
