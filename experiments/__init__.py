"""The study (issue 5): the same workloads as stateless functions over an external store, and
as Redwood durable functions. ``python -m experiments.study``."""
