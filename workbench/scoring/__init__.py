"""Engagement indicator systems (指标体系) and scores: the web side of the scoring engine."""
