"""Front doors: each translates its wire format to a ``Call`` and the result (or error) back."""
