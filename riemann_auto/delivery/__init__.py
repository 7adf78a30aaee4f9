"""Delivering: get events to Riemann without ever blocking or breaking the program.

`sender` (queue, background thread, accounting) -> `batch` (rendering) ->
`transports` (TCP, TLS, UDP, console, a user's client). Nothing here imports
a framework or knows what was timed.
"""
