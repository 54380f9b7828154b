"""The HTTP beacon as a real forwarder process: shutdown, outages, crashes and load."""
