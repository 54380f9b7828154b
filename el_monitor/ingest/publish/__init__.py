"""``el-monitor publish``: append what a source receives to a NATS JetStream stream.

The producing side of scale-out.  ``run`` is one run; ``stream`` connects and makes sure the
stream exists, ``publisher`` turns events into messages and publishes them, ``beacon`` answers
HTTP clients only once JetStream has their events, and ``chunks`` pipelines the other sources'
chunks and checkpoints them only once they are acknowledged.
"""
