"""gptnet: an LLM designs a neural network for a phone chip; gptnet checks, repairs, renders and profiles it."""

__version__ = "0.1.0"
