"""The LLM: an OpenAI-compatible client with retries and budgets, and the prompt loader."""
