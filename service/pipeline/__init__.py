"""The durable pipeline: the event stream, the worker, dispatch, job states, retries and issue
locks.
"""
