"""Three-party change requests (三方监管): a contractor proposes, a supervisor checks, an owner decides."""
