"""Benchmarks: ``make bench`` runs them all (``bench/run_all.py``); each module also runs alone.

Numbers are printed and written to ``bench/results/``; the test suite never asserts on them.
"""
