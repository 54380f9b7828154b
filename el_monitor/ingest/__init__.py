"""The forwarder: raw lines from a source (``sources``) through the per-event ``pipeline``
(capsule, opt-out, ``sampling``, validation, counts; most capsules decoded in one go by
``typed_lines``) to the store ``writer`` (with its
``spool``, and its busiest table's rows made and sent as they come: ``load_ahead``) and the
``event_logs``.  ``forwarder`` wires them and runs the loop, whose
``periodic`` jobs flush, reload the ``policy`` and hand counts to their ``count_feeds``.
One line's ``verdicts`` through the same pipeline serve ``el-monitor validate`` and the
``devserver`` (the HTTP source judged, nothing stored).
``workers`` names what keeps the processes of ``forward --workers`` apart.
``batching`` says how many events a transaction commits.
"""
