"""Past one machine: crawl workers on a shared Redis frontier, one archive writer.

``frontier.py`` (the jobs stream and the reports stream, their keys), ``limiter.py``
(per-domain request slots held in Redis), ``worker.py`` (`newswatch worker`),
``writer.py`` (`newswatch writer`), ``connection.py`` (clients, backoff while Redis is down).
"""
