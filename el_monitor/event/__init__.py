"""The EventLogging contract: capsule, raw formats, names, IP masking, JSON text."""
