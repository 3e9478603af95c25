"""Risk scoring domain: the facts an image's score is computed from (the score itself is Rego)."""
