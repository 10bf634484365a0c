"""Ranking, answerability and citing: named signals and features, weights fitted by
bench/fit.py and shipped in weights.json."""
