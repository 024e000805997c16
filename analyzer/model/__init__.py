"""The model: plain data every layer shares (facts, findings, rule metadata) and the linked program."""
