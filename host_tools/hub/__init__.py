"""Attune Studio's hub: one process owns every instrument and serves the Studio page.

Usage: attune studio [--sim combo ...]   (docs/studio-api.md is the hub's contract)
"""
