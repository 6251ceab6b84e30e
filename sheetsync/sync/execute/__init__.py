"""Performs a plan: the executor (budget, intents, replay) and one module of steps per role."""
