"""The expert panel (评审专家): registry, personal links, declarations, blind scoring sheets."""
