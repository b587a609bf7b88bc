"""What accounting does with other services' events: one function each, registered here."""
from ates.bus import Handlers

handlers = Handlers("accounting")
