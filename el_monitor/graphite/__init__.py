"""Graphite out and in: every metric name and render target (``names``), the forwarder's
emitter to carbon's plaintext port (``emitter``, graphitesend), and the render API client the
check plugins and notify read with (``render``, requests)."""
