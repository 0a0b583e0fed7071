"""Campaigns (one charity, one reporting currency, one night) and the cities taking part."""
from .models import Campaign, City, CityStatus

__all__ = ["Campaign", "City", "CityStatus"]
