"""CTI Hub: links chat, SMS and self-service outcomes to the right CRM case or ticket."""

__version__ = "0.1.0"
