"""The night's programme beyond money: each city's run sheet and the sponsors shown on pages
and screens. Domain code only (no Flask); operations flush, the caller commits."""
