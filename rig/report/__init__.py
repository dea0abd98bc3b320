"""What reports show of a run: measurements as HTML for people and as properties for CI tools."""
