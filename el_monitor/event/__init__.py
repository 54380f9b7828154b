"""The EventLogging contract, below everything else: the capsule (``capsule``), raw line
formats (``formats``), the name patterns (``names``), IP masking (``ipmask``) and capsules as
JSON text however deep they nest (``jsontext``)."""
