"""safetymonth: run a civil-affairs "safety management month" from one mailbox."""

__version__ = "0.1.0"
