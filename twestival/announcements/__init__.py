"""Announcements from coordinators to the organisers of all or chosen cities."""
