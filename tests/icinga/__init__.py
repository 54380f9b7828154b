"""Tests of the Icinga 2 objects in icinga/: validated by a real icinga2, and end to end."""
