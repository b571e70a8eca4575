"""Learned policies (torch) and their training code."""
