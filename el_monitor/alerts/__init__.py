"""Alert emails with graphs, routed to schema owners, and the daily validity report."""
