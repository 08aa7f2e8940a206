"""Real servers and helpers the tests and the benchmark run against."""
