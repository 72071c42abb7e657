"""What every projection shares: decoding stored records and choosing events by aggregate class."""
