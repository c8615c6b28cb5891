"""Alert rendering, delivery channels and the exactly-once delivery outbox.

A leaf library: it never imports ``crawler``. It is handed plain data
(:class:`alerts.render.ChangeRecord`) and a store interface
(:class:`alerts.outbox.OutboxStore`). Modules: ``render`` (plain text, HTML, Slack
blocks), ``channels`` (email, Slack, Apprise, local mbox), ``outbox`` (delivery with
retry and backoff) and ``status`` (an alert's delivery status).
"""
