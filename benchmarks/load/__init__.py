"""The load test as deployed (issue 19): the Procfile's processes behind a proxy, driven by
Locust users per role. Run it with ``python -m benchmarks.load.run``; docs/benchmarks.md."""
