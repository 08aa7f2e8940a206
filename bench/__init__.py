"""The hub's overhead benchmark: ``make bench`` (= ``python -m bench.run``); see bench/README.md."""
