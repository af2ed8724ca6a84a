"""Outcomes of both systems: recording, the duration histogram, metrics, statistics, recent
activity.
"""
