"""Other durable execution systems, measured by the same loops in the same run."""
