# tests/tests.mk: tests of the core (graph, autodiff, plan, executor, end to end).
