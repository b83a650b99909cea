"""The conversation with the LLM: cassettes, the live client, and the design pipeline."""
