"""Every way money arrives: one inbox (``inbox``) that archives each payload verbatim before
it is processed, so nothing is lost and everything can be replayed; one package or module per
stream behind the ``Stream`` interface, all registered in ``catalogue``."""
