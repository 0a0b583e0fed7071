"""Live boards over Socket.IO (namespace ``/live``)."""
from .namespace import LiveNamespace
from .publisher import Publisher, init_app

__all__ = ["LiveNamespace", "Publisher", "init_app"]
