"""Analyses over the program: they answer questions and never build findings."""
