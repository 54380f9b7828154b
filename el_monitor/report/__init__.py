"""The daily validity report: collected, drawn, rendered and mailed."""
