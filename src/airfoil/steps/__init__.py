"""The data work, as plain functions. Each step takes a `StepContext` and upstream results, returns JSON."""
