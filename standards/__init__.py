"""Classification code schemes declared as data, releases, codes, crosswalks and code validation."""
