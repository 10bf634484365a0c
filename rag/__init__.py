"""Readouts: question -> retrieve -> answer with exact citations."""
