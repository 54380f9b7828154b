"""The daily validity report: per schema, how many events were valid and invalid on a UTC day.

Invalid data is a bug its owners are expected to fix promptly, and this report is how most of
them learn of it.  The work is split the way nagios-herald splits an alert: ``collect`` reads
the day (and the 29 before it, for the comparisons and the trend) into one immutable
``model.ReportData``; ``model.owner_slice`` narrows it to one owner's schemas; ``charts`` draws
it; ``render`` says the same data as HTML and as text and packages it for mail or a file.  A
chart that cannot be drawn is left out with a note and never stops the report.

Owners see the same redacted errors between reports with ``el-monitor errors``:
``owner_errors`` (error groups over a window, or one invalid-log record) and ``invalid_tail``
(the invalid log followed as it grows).
"""
