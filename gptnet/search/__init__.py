"""`gptnet search`: propose many candidates (by the LLM, or by seeded mutations offline), measure each once (params,
MACs, estimated latency, proxy accuracy from short training), keep the Pareto front and write the winner as
`gptnet design` would."""

from .run import SearchOptions, SearchResult, search

__all__ = ["SearchOptions", "SearchResult", "search"]
