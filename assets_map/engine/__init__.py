"""The analysis: placing, need areas, joining, exclusions, underuse evidence, priority, summaries and filters; the one pipeline and its runners (dask, cache), bounded jobs and the demo."""
