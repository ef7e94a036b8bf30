"""The deploy engine: the stack as data (build), planner, executor and sweeper."""
