"""People, their roles per campaign and city, and API tokens."""
from .models import ApiToken, Membership, Role, User

__all__ = ["ApiToken", "Membership", "Role", "User"]
