"""Executors: what carries out an approved action (Kubernetes, Alertmanager silences, runbook webhooks),
one module per backend behind the `Executor` protocol of `workers.executors.base`."""
