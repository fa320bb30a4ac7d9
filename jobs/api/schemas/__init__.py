"""Request (…In) and response (…Out) shapes of the REST API; constraints live here so OpenAPI shows them.

One module per resource (jobs, system, schedules, tasks), and common.py for what they share.
"""
