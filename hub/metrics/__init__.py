"""Prometheus metrics: per-call instruments (the metrics stage), state read at scrape time (collectors),
all on one ``CollectorRegistry`` owned by the app. See README "Metrics" for every name and label.

Deliberately empty: ``hub.settings`` imports ``hub.metrics.settings``, and the collectors import the
registry, which imports the settings; import the modules you need by their own names.
"""
