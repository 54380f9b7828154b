"""Graphite out (carbon plaintext, graphitesend) and in (the render API, requests)."""
