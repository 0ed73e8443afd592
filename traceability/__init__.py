"""Material traceability (二维码溯源): GS1 Digital Link items, their bureau codes, QR labels and an audited lifecycle."""
