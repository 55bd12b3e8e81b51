"""Proposals: act-level actions waiting for approval, and their way to execution."""
