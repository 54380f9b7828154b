"""The forwarder: sources, pipeline, spool and sinks."""
