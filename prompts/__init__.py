"""Prompt templates, shipped in the package; see workers/llm/prompts.py."""
