"""Satisfaction surveys: imported 问卷星 data sets, their mapping, statistics and scoring link."""
