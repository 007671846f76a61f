"""Exits with status 0 before defining anything."""
import sys
sys.exit(0)
