"""openmsi: a standalone, Magento-compatible Multi-Source Inventory service."""

__version__ = "0.1.0"
